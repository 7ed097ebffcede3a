"""The broker's records: the tokens it minted and the escalations it opened.

No secret is stored here: a token row holds the SHA-256 of the installation token, never
the token (invariant 7). Rows are kept after expiry, because the merge gate links an
agent's pull request to the token and the human behind it long after the token died.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.db import Base


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AgentToken(Base):
    __tablename__ = "agent_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    installation_id: Mapped[int] = mapped_column(Integer)
    repository: Mapped[str] = mapped_column(String(200), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(500), index=True)
    on_behalf_of: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rule: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[dict[str, str]] = mapped_column(JSON)
    token_sha256: Mapped[str] = mapped_column(String(64))
    branch_prefix: Mapped[str] = mapped_column(String(300))
    task: Mapped[str] = mapped_column(Text, default="")
    escalation_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When foureyes revokes it: the granted TTL, or sooner on DELETE or the kill switch.
    revoke_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # When GitHub itself expires it (one hour after minting): holding it longer is useless.
    github_expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)

    @property
    def agent(self) -> str:
        return f"{self.issuer} {self.subject}"


class Escalation(Base):
    """A request for more than the rules allow, decided by a human on a GitHub issue.

    status: pending -> approved | denied | expired; approved -> used (once).
    """

    __tablename__ = "escalations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    installation_id: Mapped[int] = mapped_column(Integer)
    repository: Mapped[str] = mapped_column(String(200), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(500))
    on_behalf_of: Mapped[str | None] = mapped_column(String(100), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rule: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[dict[str, str]] = mapped_column(JSON)
    ttl: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    issue_number: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # SHA-256 of the issue's title and body as foureyes opened it (`app.identity.binding`).
    issue_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Pending: until when a human may decide; approved: until when it may be used.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    token_id: Mapped[str | None] = mapped_column(String(32), nullable=True)

    @property
    def agent(self) -> str:
        return f"{self.issuer} {self.subject}"
