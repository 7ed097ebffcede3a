"""Imports every table so that `Base.metadata` is complete (Alembic, tests)."""

from app.acted import Acted, PullBase
from app.audit.models import AuditEvent
from app.deploy.models import CommitProvenance, DeploymentReview, PushFlagIssue
from app.identity.models import AgentToken, Escalation
from app.state import KeyValue

__all__ = [
    "Acted",
    "AgentToken",
    "AuditEvent",
    "CommitProvenance",
    "DeploymentReview",
    "Escalation",
    "KeyValue",
    "PullBase",
    "PushFlagIssue",
]
