"""The audit chain's head is anchored outside the database.

Whoever can write the database could rewrite an event and recompute every hash after it:
the chain alone then verifies. The scheduled anchor job signs the head with the app's
private key and appends it to `FOUREYES_AUDIT_ANCHOR_PATH`; `foureyes audit verify`
checks the log against those signed checkpoints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from app.audit.anchor import AnchorError
from app.audit.chain import HASHED_FIELDS, event_hash
from app.cli import cli
from tests.attacks.helpers import app_bot, audit_events
from tests.unit.github.conftest import AGENT, REPO, Gate


def anchor(gate: Gate) -> int | None:
    with gate.app.app_context():
        task = gate.app.extensions["celery"].tasks["workers.audit.anchor_chain"]
        return task.apply(throw=True).get()


def verify(gate: Gate, *args: str) -> tuple[int, str]:
    settings = gate.app.extensions["foureyes"].settings
    env = {
        "DATABASE_URL": settings.database_url,
        "PRIVATE_KEY": settings.private_key,
        "FOUREYES_AUDIT_ANCHOR_PATH": str(settings.audit_anchor_path),
    }
    result = CliRunner().invoke(cli, ["audit", "verify", *args], env=env)
    return result.exit_code, result.output


def engine(gate: Gate) -> Engine:
    engine = gate.app.extensions["foureyes"].engine
    with engine.begin() as conn:  # the append-only triggers, dropped as a database owner can
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
    return engine


def rewrite_history(gate: Gate, seq: int, **changes: str) -> None:
    """Change event `seq` and recompute its hash and every later one, links included."""
    db = engine(gate)
    with db.begin() as conn:
        rows = [
            dict(row._mapping)
            for row in conn.execute(
                text("SELECT * FROM audit_events WHERE seq >= :seq ORDER BY seq"), {"seq": seq}
            )
        ]
        prev = conn.execute(
            text("SELECT hash FROM audit_events WHERE seq = :seq"), {"seq": seq - 1}
        ).scalar()
        for row in rows:
            row.update(changes if row["seq"] == seq else {})
            row["data"] = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
            row["prev_hash"] = prev
            row["hash"] = prev = event_hash({name: row[name] for name in HASHED_FIELDS})
            conn.execute(
                text(
                    "UPDATE audit_events SET decision = :decision, reason = :reason, "
                    "prev_hash = :prev_hash, hash = :hash WHERE seq = :seq"
                ),
                row,
            )


def story(gate: Gate) -> None:
    """An agent's pull request blocked, then approved: a trail worth rewriting."""
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
    gate.deliver("pull_request")
    gate.simulator.review(REPO, number, "maintainer")
    gate.deliver("pull_request_review")


def test_a_rewritten_history_with_every_hash_recomputed_fails_verify(gate: Gate):
    story(gate)
    head = anchor(gate)
    assert head == len(audit_events(gate))
    assert verify(gate)[0] == 0

    [blocked, *_] = audit_events(gate, "gate.evaluated")
    rewrite_history(gate, blocked.seq, decision="success", reason="Approved by maintainer")
    chain_only = CliRunner().invoke(
        cli,
        ["audit", "verify"],
        env={
            "DATABASE_URL": gate.app.extensions["foureyes"].settings.database_url,
            "FOUREYES_AUDIT_ANCHOR_PATH": str(Path(gate.app.instance_path) / "none.jsonl"),
        },
    )
    assert chain_only.exit_code == 0  # the chain alone is fooled: what the attacker relies on
    code, output = verify(gate)
    assert code == 1, output
    assert "history was rewritten" in output


def test_a_truncated_history_fails_verify(gate: Gate):
    story(gate)
    anchor(gate)
    with engine(gate).begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq > 2"))
    code, output = verify(gate)
    assert code == 1 and "truncated" in output


def test_the_anchor_job_never_signs_a_rewritten_history(gate: Gate):
    story(gate)
    first = anchor(gate)
    rewrite_history(gate, 2, decision="allow", reason="nothing to see")
    gate.simulator.push_branch(REPO, "more", {"b.py": "2\n"}, pusher=app_bot(gate))
    gate.deliver("push")  # the log moves on
    with pytest.raises(AnchorError, match="rewritten"):
        anchor(gate)
    path = gate.app.extensions["foureyes"].settings.audit_anchor_path
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [first]


def test_a_forged_checkpoint_is_refused(gate: Gate):
    story(gate)
    anchor(gate)
    path = gate.app.extensions["foureyes"].settings.audit_anchor_path
    line = json.loads(path.read_text())
    line["hash"] = "0" * 64
    path.write_text(json.dumps(line) + "\n")
    code, output = verify(gate)
    assert code == 1 and "signature does not match" in output


def test_the_anchor_job_runs_at_least_hourly():
    from workers import beat_schedule

    [entry] = [e for e in beat_schedule().values() if e["task"] == "workers.audit.anchor_chain"]
    assert entry["schedule"] <= 3600
