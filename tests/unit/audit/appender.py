"""Events for tests, and the body of the processes that append concurrently."""

from __future__ import annotations

from typing import Any

from app.audit.append import append
from app.db import make_engine


def sample_event(n: int, **fields: Any) -> dict[str, Any]:
    """An event as `emit` queues it (type token.issued unless given)."""
    event: dict[str, Any] = {
        "ts": f"2025-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}.000000Z",
        "type": "token.issued",
        "installation_id": 7,
        "repository": "acme/app",
        "actor": None,
        "agent": "repo:acme/agents:ref:refs/heads/main",
        "subject": f"token:t{n}",
        "decision": "allow",
        "reason": None,
        "data": {"token_id": f"t{n}", "ttl": 900, "permissions": {"contents": "write"}},
        "key": f"test:{n}",
    }
    event.update(fields)
    return event


def append_many(database_url: str, worker: int, count: int, start: Any) -> None:
    """Append `count` events from a fresh process once `start` is set (max contention)."""
    engine = make_engine(database_url)
    start.wait(60)
    for i in range(count):
        append(engine, sample_event(worker * 10_000 + i, key=f"w{worker}:{i}"))
    engine.dispose()


def bulk_append(engine: Any, count: int) -> None:
    """`count` chained events in one transaction (fast set-up for large logs)."""
    from sqlalchemy import insert

    from app.audit.chain import GENESIS_HASH, chained, normalise_event
    from app.audit.models import AuditEvent

    rows, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        row = chained(normalise_event(sample_event(seq)), seq, prev)
        rows.append(row)
        prev = row["hash"]
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent), rows)
