"""The one task every webhook delivery becomes: audit it, then route it to its handlers."""

from __future__ import annotations

from typing import Any

import structlog
from celery import shared_task

from app.audit.emit import emit
from app.services import services
from workers import deployments, gate, guards, tokens
from workers.router import Router, dispatch

log = structlog.get_logger()


def routers() -> list[Router]:
    """Every concern's router, combined in one place."""
    return [gate.router, tokens.router, deployments.router, guards.router]


def _repository(payload: dict[str, Any]) -> str | None:
    repo = payload.get("repository")
    return repo.get("full_name") if isinstance(repo, dict) else None


@shared_task(name="workers.webhooks.process_delivery")
def process_delivery(event: str, delivery: str, payload: dict[str, Any]) -> int:
    """Handle one accepted delivery. Idempotent: a redelivered task re-runs safely."""
    installation = (payload.get("installation") or {}).get("id")
    repository = _repository(payload)
    number = (payload.get("pull_request") or payload.get("issue") or {}).get("number")
    structlog.contextvars.bind_contextvars(
        delivery=delivery,
        github_event=event,
        installation=installation,
        repository=repository,
        pr=number,
    )
    sender = (payload.get("sender") or {}).get("login")
    emit(
        "webhook.received",
        subject=repository or f"installation:{installation}",
        installation_id=installation,
        repository=repository,
        actor=sender,
        data={
            "event": event,
            "action": payload.get("action"),
            "delivery": delivery,
            "sender": sender,
        },
        key=f"webhook.received:{delivery}",
    )
    handled = dispatch(routers(), event, payload, services())
    log.info("webhook.processed" if handled else "webhook.ignored", handlers=handled)
    return handled
