"""Who acted, as GitHub reported it: the server-side memory the merge gate judges by.

Identity comes from the actor GitHub names (a `push`'s pusher, a `synchronize`'s or a
dismissal's `sender`, an activity's `actor`), never from names an agent chooses (branch
names, commit e-mails). Rows are written from webhooks and from what an evaluation read
from GitHub, and only ever added: a redelivered event adds nothing new.

`PullBase` is the base a pull request was last seen against and since when: an approval
given before that moment was given for another diff (invariant 11).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.github.client import parse_time
from app.identity.models import UtcDateTime
from app.policy.catalogue import MAX_REQUESTERS, webhook_requesters
from app.policy.facts import Requester

PUSH = "push"  # subject: a commit sha the actor pushed (the head after, or one listed)
FORCE_PUSH = "force_push"  # subject: the ref the actor rewrote
DISMISSAL = "dismissal"  # subject: "<pull number>:<review id>"
# actor: a human an agent works for; subject: "<pull number>:<recipe>:<sha>:<evidence>"
REQUESTER = "requester"
# actor: a human an agent works for, as the gate counted them; subject: the head commit,
# or the pull request's number (every commit of it, for the deployment gate)
REQUESTER_OF_HEAD = "requester-head"
REQUESTER_OF_PULL = "requester-pull"
UNKNOWN_REQUESTER = "*"  # a requester-head actor: whom the agent works for is not known


class Acted(Base):
    __tablename__ = "acted"

    repository: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class PullBase(Base):
    __tablename__ = "pull_bases"

    repository: Mapped[str] = mapped_column(String(200), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_ref: Mapped[str] = mapped_column(String(300))
    since: Mapped[datetime] = mapped_column(UtcDateTime)


def record(
    session: Session, repository: str, kind: str, subjects: Iterable[str], actor: str, at: datetime
) -> None:
    """Remember that `actor` did `kind` on each subject (idempotent; the earliest time wins)."""
    for subject in dict.fromkeys(subjects):
        key = (repository.lower(), kind, subject, actor)
        if session.get(Acted, key) is not None:
            continue
        try:
            with session.begin_nested():
                session.add(
                    Acted(repository=key[0], kind=kind, subject=subject, actor=actor, at=at)
                )
        except IntegrityError:
            continue  # another worker recorded the same fact meanwhile


def actors(
    session: Session, repository: str, kind: str, subjects: Iterable[str]
) -> dict[str, list[tuple[str, datetime]]]:
    """For each subject with a record, who acted and when."""
    wanted = list(dict.fromkeys(subjects))
    found: dict[str, list[tuple[str, datetime]]] = {}
    for start in range(0, len(wanted), 500):
        rows = session.scalars(
            select(Acted).where(
                Acted.repository == repository.lower(),
                Acted.kind == kind,
                Acted.subject.in_(wanted[start : start + 500]),
            )
        )
        for row in rows:
            found.setdefault(row.subject, []).append((row.actor, row.at))
    return found


def remember_requesters(
    session: Session, repository: str, number: int, found: Iterable[Requester], at: datetime
) -> None:
    """Remember requesters seen on a pull request: text that named them may be edited
    away, an assignment undone, a review request consumed by the review; they stay.

    At most one more than `MAX_REQUESTERS` rows per pull request: text an agent writes
    cannot flood the table, and a memory that overflowed makes the evaluation fail
    closed (`app.policy.agents`) instead of forgetting anyone."""
    wanted = {(f"{number}:{p.source}:{p.sha}:{p.evidence}"[:300], p.login): None for p in found}
    if not wanted:
        return
    held = session.scalar(
        select(func.count()).select_from(Acted).where(*_requesters_of(repository, number))
    )
    room = MAX_REQUESTERS + 1 - int(held or 0)
    for subject, login in list(wanted)[: max(room, 0)]:
        record(session, repository, REQUESTER, [subject], login, at)


def requesters(session: Session, repository: str, number: int) -> tuple[Requester, ...]:
    """The requesters remembered for the pull request (one more than `MAX_REQUESTERS`
    at most: then the memory overflowed)."""
    rows = session.scalars(
        select(Acted)
        .where(*_requesters_of(repository, number))
        .order_by(Acted.at)
        .limit(MAX_REQUESTERS + 1)
    )
    found = []
    for row in rows:
        _, source, sha, evidence = row.subject.split(":", 3)
        found.append(Requester(row.actor, source, evidence, sha))
    return tuple(found)


def base_since(
    session: Session, repository: str, number: int, base_ref: str, seen_at: datetime
) -> datetime | None:
    """Since when the pull request has had `base_ref` as its base, as far as foureyes saw.

    The first sighting trusts the base (None: no change seen). A different base than the
    one recorded is a retarget seen at `seen_at` (GitHub's `updated_at` of the pull
    request, on GitHub's clock like the reviews' `submitted_at`).
    """
    key = (repository.lower(), number)
    row = session.get(PullBase, key)
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    PullBase(repository=key[0], number=number, base_ref=base_ref, since=_epoch())
                )
        except IntegrityError:
            pass
        return None
    if row.base_ref != base_ref:
        row.base_ref, row.since = base_ref, seen_at
    return None if row.since == _epoch() else row.since


def retargeted(session: Session, repository: str, number: int, base_ref: str, at: datetime) -> None:
    """A `pull_request.edited` with `changes.base`: the base is `base_ref` since `at`."""
    key = (repository.lower(), number)
    row = session.get(PullBase, key)
    if row is None:
        session.add(PullBase(repository=key[0], number=number, base_ref=base_ref, since=at))
    elif row.base_ref != base_ref or row.since < at:
        row.base_ref, row.since = base_ref, max(row.since, at)


def _epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC)


def _requesters_of(repository: str, number: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions selecting one pull request's remembered requesters."""
    return (
        Acted.repository == repository.lower(),
        Acted.kind == REQUESTER,
        Acted.subject.startswith(f"{number}:", autoescape=True),
    )


def requesters_from_webhook(session: Session, payload: dict[str, Any], now: datetime) -> None:
    """Remember the requesters a `pull_request` delivery shows (`webhook_requesters`)."""
    repository = (payload.get("repository") or {}).get("full_name")
    pull = payload.get("pull_request") or {}
    if repository and pull.get("number"):
        found = webhook_requesters(payload)
        remember_requesters(session, repository, int(pull["number"]), found, now)


def counted_requesters(
    session: Session, repository: str, sha: str, numbers: Iterable[int]
) -> set[str]:
    """The humans the gate counted as an agent's requesters on the head `sha` or on any of
    the pull requests `numbers` (lower case)."""
    found = actors(session, repository, REQUESTER_OF_HEAD, [sha]).get(sha, [])
    subjects = [str(number) for number in numbers]
    for people in actors(session, repository, REQUESTER_OF_PULL, subjects).values():
        found.extend(people)
    return {login.lower() for login, _ in found}


def from_webhook(session: Session, event: str, payload: dict[str, Any], now: datetime) -> None:
    """Remember who acted in a `push`, `pull_request` or `pull_request_review` delivery."""
    repository = (payload.get("repository") or {}).get("full_name")
    sender = (payload.get("sender") or {}).get("login")
    if not repository or not sender:
        return
    action = payload.get("action")
    if event == "push":
        pushers = {sender, *([name] if (name := (payload.get("pusher") or {}).get("name")) else [])}
        shas = [c.get("id") for c in payload.get("commits") or () if c.get("id")]
        after = payload.get("after")
        if after and not payload.get("deleted"):
            shas.append(after)
        for pusher in sorted(pushers):
            record(session, repository, PUSH, shas, pusher, now)
            if payload.get("forced"):
                record(session, repository, FORCE_PUSH, [payload.get("ref") or ""], pusher, now)
    elif event == "pull_request" and action == "synchronize" and payload.get("after"):
        record(session, repository, PUSH, [payload["after"]], sender, now)
    elif (
        event == "pull_request" and action == "edited" and "base" in (payload.get("changes") or {})
    ):
        pull = payload["pull_request"]
        at = parse_time(pull["updated_at"]) if pull.get("updated_at") else now
        retargeted(session, repository, int(pull["number"]), pull["base"]["ref"], at)
    if event == "pull_request_review" and action == "dismissed":
        subject = f"{payload['pull_request']['number']}:{payload['review']['id']}"
        record(session, repository, DISMISSAL, [subject], sender, now)
