"""Imports every table so that `Base.metadata` is complete (Alembic, tests)."""

from app.audit.models import AuditEvent
from app.state import KeyValue

__all__ = ["AuditEvent", "KeyValue"]
