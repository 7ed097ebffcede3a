"""What the attack tests read back: the audit log and the simulated GitHub's state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEvent
from tests.unit.github.conftest import Gate


def audit_events(gate: Gate, type: str | None = None) -> list[AuditEvent]:
    deps = gate.app.extensions["foureyes"]
    with deps.sessions() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if type:
            query = query.where(AuditEvent.type == type)
        return list(session.scalars(query))


def app_bot(gate: Gate) -> str:
    """The login GitHub shows for anything done with a token this app minted."""
    world = gate.simulator.world
    with world.lock:
        return world.apps[gate.installed.app_id].bot_login


def issues(gate: Gate, repository: str) -> list[Any]:
    world = gate.simulator.world
    with world.lock:
        return list(world.repo(repository).issues.values())
