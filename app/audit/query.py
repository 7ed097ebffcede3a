"""Reading the audit log: filtered pages in seq order, and the latest event about a subject."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.audit.chain import HASHED_FIELDS, format_ts
from app.audit.models import AuditEvent

MAX_LIMIT = 500
STREAM_BATCH = 1000


def _filtered(
    *,
    type: str | None = None,
    subject: str | None = None,
    repository: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    after_seq: int | None = None,
) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent)
    if type is not None:
        query = query.where(AuditEvent.type == type)
    if subject is not None:
        query = query.where(AuditEvent.subject == subject)
    if repository is not None:
        query = query.where(AuditEvent.repository == repository)
    if agent is not None:
        query = query.where(AuditEvent.agent == agent)
    if since is not None:
        query = query.where(AuditEvent.ts >= format_ts(since))
    if after_seq is not None:
        query = query.where(AuditEvent.seq > after_seq)
    return query.order_by(AuditEvent.seq)


def events(
    session: Session,
    *,
    type: str | None = None,
    subject: str | None = None,
    repository: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Events matching every given filter, oldest first, at most `limit` (1..500).

    `since` must be timezone-aware; `after_seq` is the pagination cursor.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    query = _filtered(
        type=type,
        subject=subject,
        repository=repository,
        agent=agent,
        since=since,
        after_seq=after_seq,
    )
    return list(session.scalars(query.limit(limit)))


def latest(session: Session, *, type: str, subject: str) -> AuditEvent | None:
    """The newest event of `type` about `subject`, or None."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.type == type, AuditEvent.subject == subject)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def stream(session: Session, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every event (since `since`) in seq order as `AuditEvent.to_dict()` dicts, fetched in
    batches through a server-side cursor where the database has one. Plain rows, not ORM
    objects, so nothing accumulates in the session: constant memory."""
    columns = [getattr(AuditEvent, name) for name in (*HASHED_FIELDS, "hash")]
    query = _filtered(since=since).with_only_columns(*columns)
    result = session.execute(query.execution_options(yield_per=STREAM_BATCH))
    for row in result:
        yield row._asdict()
