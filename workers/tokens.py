"""Token-broker tasks: revoke tokens when due, open escalation issues, decide escalations.

Tasks take plain ids: no token crosses the Celery broker. Raw tokens wait for revocation
encrypted in the shared state (see `app.identity.vault`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from celery import shared_task
from sqlalchemy import select

from app.errors import TransientError
from app.identity.decide import handle_issue_comment, handle_issue_edited
from app.identity.escalation import open_issue
from app.identity.models import Escalation
from app.identity.revoke import due_tokens, revoke_token
from app.services import services
from app.state import held_lock
from workers.router import Router

log = structlog.get_logger()

SWEEP_EVERY = 30.0
# An escalation whose issue-opening task was lost is re-queued after this long.
ISSUE_GRACE = timedelta(minutes=2)

router = Router()
router.on("issue_comment", "created")(handle_issue_comment)
router.on("issues", "edited")(handle_issue_edited)


@shared_task(name="workers.tokens.revoke_agent_token")
def revoke_agent_token(token_id: str) -> bool:
    """Revoke one token now (the agent's DELETE); retried on GitHub outages."""
    return revoke_token(services(), token_id, "revoked by the agent")


@shared_task(name="workers.tokens.revoke_due_tokens")
def revoke_due_tokens() -> int:
    """Every 30 s: revoke each token whose TTL ran out or whose revocation was asked."""
    deps = services()
    revoked = 0
    with held_lock(deps.state, "sweep:agent-tokens", SWEEP_EVERY * 4) as held:
        if not held:
            return 0
        for token_id in due_tokens(deps):
            try:
                revoked += revoke_token(deps, token_id, "expired: its TTL ran out")
            except TransientError as exc:
                # Still due in the database: the next sweep tries again.
                log.warning("broker.revoke_failed", token_id=token_id, error=str(exc))
    return revoked


@shared_task(name="workers.tokens.open_escalation_issue")
def open_escalation_issue(escalation_id: str) -> int | None:
    return open_issue(services(), escalation_id)


@shared_task(name="workers.tokens.reopen_lost_escalations")
def reopen_lost_escalations() -> int:
    """Queue the issue of pending escalations whose opening task never ran."""
    deps = services()
    now = datetime.now(UTC)
    with deps.sessions() as session:
        lost = list(
            session.scalars(
                select(Escalation.id).where(
                    Escalation.status == "pending",
                    Escalation.issue_number.is_(None),
                    Escalation.created_at < now - ISSUE_GRACE,
                    Escalation.expires_at > now,
                )
            )
        )
    for escalation_id in lost:
        open_escalation_issue.delay(escalation_id)
    return len(lost)
