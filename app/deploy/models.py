"""Records of the deployment and workflow guard: provenance, deployment reviews, flags.

Provenance says which commits a human countersigned: each head humans approved through
the merge gate, and each merge, with whether its head had been so approved. Rows are never
updated in place except a review's outcome, which moves once from pending.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.identity.models import UtcDateTime


class CommitProvenance(Base):
    """A commit the merge gate passed (`kind` head) or a merge (`kind` merge)."""

    __tablename__ = "commit_provenance"
    __table_args__ = (UniqueConstraint("repository", "sha", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repository: Mapped[str] = mapped_column(String(200), index=True)
    sha: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # head | merge
    pull_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    head_sha: Mapped[str | None] = mapped_column(String(40), nullable=True)  # merged head
    merged_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # For a merge: had the gate passed the merged head when it was merged.
    gate_passed: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeploymentReview(Base):
    """One deployment protection rule request (a run and an environment) and its answer.

    status: pending -> approved | rejected | expired, or approved | rejected at once.
    `answered` turns true once GitHub accepted the answer, so a retried task re-sends
    only what GitHub has not heard.
    """

    __tablename__ = "deployment_reviews"
    __table_args__ = (UniqueConstraint("repository", "run_id", "environment"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    installation_id: Mapped[int] = mapped_column(BigInteger)
    repository: Mapped[str] = mapped_column(String(200), index=True)
    environment: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[int] = mapped_column(BigInteger)
    deployment_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(300), default="")
    creator: Mapped[str | None] = mapped_column(String(100), nullable=True)
    triggering_actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(600), nullable=True)
    on_behalf_of: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    verdict: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    issue_number: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # SHA-256 of the issue's title and body as foureyes opened it (`app.identity.binding`).
    issue_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

    @property
    def subject(self) -> str:
        return f"deployment:{self.environment}@{self.sha}"


class PushFlagIssue(Base):
    """The one issue per agent, repository and UTC day that collects its flagged pushes."""

    __tablename__ = "push_flag_issues"

    repository: Mapped[str] = mapped_column(String(200), primary_key=True)
    agent: Mapped[str] = mapped_column(String(600), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    issue_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
