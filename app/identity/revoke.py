"""Revoking agent tokens: at their TTL (the sweep), on the agent's DELETE, by the kill switch.

State lives in the database (`revoke_at`, `revoked_at`) and the token vault, never in a
process, so a revocation survives any restart: the 30 s sweep finds every token due.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from sqlalchemy import or_, select, update

from app.audit.emit import emit
from app.identity.models import AgentToken
from app.identity.vault import TokenVault
from app.services import Services
from app.state import held_lock

log = structlog.get_logger()


def revoke_now(deps: Services, raw: str) -> None:
    """`DELETE /installation/token` with the token itself; already dead (401) is fine."""
    deps.github.revoke_token(raw)


def revoke_token(deps: Services, token_id: str, reason: str, actor: str | None = None) -> bool:
    """Revoke one token at GitHub and record it; idempotent. True when this call revoked it.

    Raises TransientError when GitHub cannot be reached: the caller (a task, the sweep)
    tries again, and the token stays due in the database meanwhile.
    """
    with held_lock(deps.state, f"revoke:{token_id}", 120) as held:
        if not held:
            return False
        with deps.sessions() as session:
            row = session.get(AgentToken, token_id)
            if row is None or row.revoked_at is not None:
                return False
            reason = row.revoke_reason or reason
            vault = TokenVault(deps.state, deps.settings.private_key or "")
            raw = vault.take(token_id)
            if raw is not None:
                revoke_now(deps, raw)
            else:
                reason = f"{reason} (no longer held: GitHub had expired it)"
            emit(
                "token.revoked",
                subject=f"token:{token_id}",
                installation_id=row.installation_id,
                repository=row.repository,
                agent=row.agent,
                actor=actor,
                decision="revoked",
                reason=reason,
                data={"token_id": token_id, "token_sha256": row.token_sha256},
                key=f"token.revoked:{token_id}",
            )
            row.revoked_at = datetime.now(UTC)
            row.revoke_reason = reason[:200]
            session.commit()
        vault.release(token_id)
    log.info("broker.revoked", token_id=token_id, reason=reason)
    return True


def mark_due(deps: Services, token_ids: list[str], reason: str) -> None:
    """Make tokens due for revocation now (the sweep revokes them if the caller cannot)."""
    if not token_ids:
        return
    with deps.sessions.begin() as session:
        session.execute(
            update(AgentToken)
            .where(AgentToken.id.in_(token_ids), AgentToken.revoked_at.is_(None))
            .values(revoke_at=datetime.now(UTC), revoke_reason=reason[:200])
        )


def due_tokens(deps: Services, now: datetime | None = None) -> list[str]:
    with deps.sessions() as session:
        return list(
            session.scalars(
                select(AgentToken.id)
                .where(
                    AgentToken.revoked_at.is_(None),
                    AgentToken.revoke_at <= (now or datetime.now(UTC)),
                )
                .order_by(AgentToken.revoke_at)
                .limit(500)
            )
        )


def live_tokens(deps: Services, agent: str | None = None) -> list[str]:
    """Unrevoked tokens, of one agent (its subject, or `<issuer> <subject>`) or of all."""
    query = select(AgentToken.id).where(AgentToken.revoked_at.is_(None))
    if agent is not None:
        issuer, _, subject = agent.partition(" ")
        match = AgentToken.subject == agent
        if subject:
            match = or_(match, (AgentToken.issuer == issuer) & (AgentToken.subject == subject))
        query = query.where(match)
    with deps.sessions() as session:
        return list(session.scalars(query))
