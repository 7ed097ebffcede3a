"""The audit table: one row per event, hash-chained in `seq` order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.chain import HASHED_FIELDS
from app.db import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"

    # Assigned under the chain lock: unique, gapless, 1..n. Not autoincrement, so that a
    # rolled-back append can never leave a hole.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    # ISO 8601 UTC text in one fixed form (chain.format_ts): hashed exactly as stored,
    # and its text order is its time order.
    ts: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    repository: Mapped[str | None] = mapped_column(String(256))
    actor: Mapped[str | None] = mapped_column(String(256))
    agent: Mapped[str | None] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(512))
    decision: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(2000))
    # JSON, not JSONB: the text is kept as written, so numbers hash as they were given.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    key: Mapped[str] = mapped_column(String(256))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("key", name="uq_audit_events_key"),
        Index("ix_audit_events_type_subject", "type", "subject"),
        Index("ix_audit_events_subject", "subject"),
        Index("ix_audit_events_repository", "repository"),
        Index("ix_audit_events_agent", "agent"),
        Index("ix_audit_events_ts", "ts"),
    )

    def to_dict(self) -> dict[str, Any]:
        """Every stored field: the hashed ones and `hash` (what export and the API show)."""
        out = {name: getattr(self, name) for name in HASHED_FIELDS}
        out["hash"] = self.hash
        return out

    def __repr__(self) -> str:
        return f"<AuditEvent {self.seq} {self.type} {self.subject}>"
