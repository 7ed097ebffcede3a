"""Migration 0005_contexts: heads recorded before it keep their countersignature only when
the gate's latest success on them was on approvals it counted; merges follow their head."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select

from app.audit.append import append
from app.audit.chain import format_ts
from app.db import make_engine
from app.deploy.models import CommitProvenance
from app.migrate import alembic_config, upgrade
from app.policy.result import Approval, Conclusion, Node, Result, Status
from tests.unit.audit.conftest import fresh_postgres_url  # noqa: F401 - a fixture

REPO = "acme/widgets"


def result(sha: str, approved: bool) -> dict:
    rule = Node(
        "human review",
        Status.PASS if approved else Status.SKIP,
        "Satisfied" if approved else "Does not apply",
        approvals=(Approval("maria", True, "write"),) if approved else (),
    )
    root = Node("merge gate", Status.PASS, "Agent work", children=(rule,))
    title = "Approved by maria" if approved else "No rule applies: no approval needed"
    return Result(Conclusion.SUCCESS, title, root, True, head_sha=sha).to_dict()


def evaluated(engine, number: int, sha: str, approved: bool) -> None:
    append(
        engine,
        {
            "ts": format_ts(datetime.now(UTC)),
            "type": "gate.evaluated",
            "subject": f"{REPO}#{number}",
            "repository": REPO,
            "decision": "success",
            "data": {"head_sha": sha, "conclusion": "success", "result": result(sha, approved)},
            "key": f"evaluated:{number}:{sha}",
        },
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'foureyes.sqlite'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    config = alembic_config(engine)
    command.upgrade(config, "0002")
    command.upgrade(config, "0004")
    yield engine
    engine.dispose()


def test_only_heads_humans_approved_keep_their_countersignature(engine, tmp_path: Path):
    approved, unreviewed, unknown = "a" * 40, "b" * 40, "c" * 40
    evaluated(engine, 1, approved, approved=True)
    evaluated(engine, 2, unreviewed, approved=False)
    now = datetime.now(UTC)
    rows = [
        {"sha": approved, "kind": "head"},
        {"sha": unreviewed, "kind": "head"},
        {"sha": unknown, "kind": "head"},
        {"sha": "d" * 40, "kind": "merge", "head_sha": approved},
        {"sha": "e" * 40, "kind": "merge", "head_sha": unreviewed},
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                insert(CommitProvenance).values(
                    repository=REPO, gate_passed=True, recorded_at=now, **row
                )
            )

    upgrade(engine, tmp_path)

    with engine.connect() as conn:
        kept = conn.execute(
            select(CommitProvenance.sha).where(CommitProvenance.gate_passed.is_(True))
        ).scalars()
        assert sorted(kept) == [approved, "d" * 40]
