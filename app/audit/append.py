"""Append one event to the chain: serialised across processes, idempotent by key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.audit.chain import GENESIS_HASH, TEXT_LIMITS, chained, normalise_event
from app.audit.guard import clip_text, redact_secrets
from app.audit.models import AuditEvent
from app.errors import TransientError

log = structlog.get_logger()

# The PostgreSQL advisory lock that serialises appends ("4eye" in ASCII).
CHAIN_LOCK_ID = 0x34657965


@contextmanager
def chain_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the chain lock until it commits or rolls back.

    PostgreSQL: a transaction-scoped advisory lock, so the head read after it sees every
    append committed before. SQLite: BEGIN IMMEDIATE takes the database's write lock
    before the head is read (the driver's lazy BEGIN would read first, lock later).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": CHAIN_LOCK_ID})
        else:
            raise RuntimeError(f"the audit chain has no lock for {conn.dialect.name}")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def head(conn: Connection) -> tuple[int, str]:
    """The (seq, hash) of the newest event; (0, 64 zeros) for an empty log."""
    row = conn.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


def append(engine: Engine, event: dict[str, Any]) -> int:
    """Append `event` (the dict `emit` queued) and return its seq.

    An event whose key is already in the log is not written again: its seq is returned.
    Raises ValueError for a malformed event (never retried) and TransientError when the
    database cannot be reached or stays locked (retried by the task).
    """
    # Redacted again: a message on the queue may not have come through `emit`.
    clean = normalise_event(clip_text(redact_secrets(event), TEXT_LIMITS))
    try:
        with chain_transaction(engine) as conn:
            existing = conn.execute(
                select(AuditEvent.seq).where(AuditEvent.key == clean["key"])
            ).scalar()
            if existing is not None:
                log.info("audit.duplicate", key=clean["key"], seq=existing)
                return int(existing)
            last_seq, last_hash = head(conn)
            row = chained(clean, last_seq + 1, last_hash)
            conn.execute(insert(AuditEvent).values(**row))
    except IntegrityError as exc:
        # Only reachable if something appended without the lock: try again, in order.
        raise TransientError(f"audit append conflicted: {exc.orig}") from exc
    except DBAPIError as exc:
        raise TransientError(f"audit database unavailable: {type(exc.orig).__name__}") from exc
    log.info("audit.appended", seq=row["seq"], type=row["type"], subject=row["subject"])
    return int(row["seq"])
