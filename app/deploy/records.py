"""Provenance records: write the heads the gate passed and the merges; read them back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.exc import IntegrityError

from app.deploy.models import CommitProvenance
from app.services import Services

# How many of the newest countersigned commits to try as the base of a comparison.
BASE_CANDIDATES = 5


def _add(deps: Services, row: CommitProvenance) -> bool:
    """Insert once (natural key: repository, sha, kind); False when it was there."""
    try:
        with deps.sessions.begin() as session:
            exists = session.scalars(
                select(CommitProvenance.id).where(
                    CommitProvenance.repository == row.repository,
                    CommitProvenance.sha == row.sha,
                    CommitProvenance.kind == row.kind,
                )
            ).first()
            if exists is not None:
                return False
            session.add(row)
    except IntegrityError:
        return False  # a concurrent writer recorded the same fact
    return True


def record_passed_head(deps: Services, repository: str, sha: str, number: int | None) -> bool:
    """Humans approved `sha` through the merge gate (a pull request's or a merge group's
    head, in every context it stands in): `app.deploy.provenance.human_countersigned`.
    A head whose countersignature was withdrawn and is approved again passes again."""
    if _set_head_passed(deps, repository, sha, passed=True):
        return True
    return _add(
        deps,
        CommitProvenance(
            repository=repository.lower(),
            sha=sha,
            kind="head",
            pull_number=number or None,
            gate_passed=True,
            recorded_at=datetime.now(UTC),
        ),
    )


def withdraw_passed_head(deps: Services, repository: str, sha: str) -> bool:
    """A later judgement of `sha` is no human countersignature (a change request, a new
    context that blocks): the deployment gate no longer takes it as reviewed."""
    return _set_head_passed(deps, repository, sha, passed=False)


def _set_head_passed(deps: Services, repository: str, sha: str, *, passed: bool) -> bool:
    """Flip an existing head record to `passed`; True when one changed."""
    with deps.sessions.begin() as session:
        changed = session.execute(
            update(CommitProvenance)
            .where(
                CommitProvenance.repository == repository.lower(),
                CommitProvenance.sha == sha,
                CommitProvenance.kind == "head",
                CommitProvenance.gate_passed.is_(not passed),
            )
            .values(gate_passed=passed)
        )
        return bool(changed.rowcount)


def record_merge(
    deps: Services,
    repository: str,
    merge_sha: str,
    number: int,
    head_sha: str,
    merged_by: str | None,
    gate_passed: bool,
) -> bool:
    return _add(
        deps,
        CommitProvenance(
            repository=repository.lower(),
            sha=merge_sha,
            kind="merge",
            pull_number=number,
            head_sha=head_sha,
            merged_by=merged_by,
            gate_passed=gate_passed,
            recorded_at=datetime.now(UTC),
        ),
    )


def head_passed(deps: Services, repository: str, sha: str) -> bool:
    """Did humans approve `sha` as a head through the merge gate?"""
    return _recorded(
        deps,
        repository,
        sha,
        and_(CommitProvenance.kind == "head", CommitProvenance.gate_passed.is_(True)),
    )


def countersigned(deps: Services, repository: str, sha: str) -> bool:
    """Is `sha` a head humans approved, or the merge of one?"""
    return _recorded(deps, repository, sha, CommitProvenance.gate_passed.is_(True))


def _recorded(deps: Services, repository: str, sha: str, condition: ColumnElement[bool]) -> bool:
    """Is there a provenance record of `sha` in `repository` that meets `condition`?"""
    with deps.sessions() as session:
        found = session.scalars(
            select(CommitProvenance.id).where(
                CommitProvenance.repository == repository.lower(),
                CommitProvenance.sha == sha,
                condition,
            )
        ).first()
        return found is not None


def newest_countersigned(deps: Services, repository: str) -> list[str]:
    """The newest countersigned merges and heads, newest first: candidate bases."""
    with deps.sessions() as session:
        rows = session.scalars(
            select(CommitProvenance.sha)
            .where(
                CommitProvenance.repository == repository.lower(),
                CommitProvenance.gate_passed.is_(True),
            )
            .order_by(CommitProvenance.id.desc())
            .limit(BASE_CANDIDATES * 2)
        ).all()
    return list(dict.fromkeys(rows))[:BASE_CANDIDATES]
