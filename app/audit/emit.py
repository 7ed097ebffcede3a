"""The one way every component records an audit event: queue it for the audit worker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog

from app.audit.chain import EVENT_TYPES, TEXT_LIMITS, format_ts, normalise_event
from app.audit.guard import clip_text, redact_secrets
from app.errors import TransientError

log = structlog.get_logger()

APPEND_TASK = "workers.audit.append_event"


def emit(
    type: str,
    *,
    subject: str,
    installation_id: int | None = None,
    repository: str | None = None,
    actor: str | None = None,
    agent: str | None = None,
    decision: str | None = None,
    reason: str | None = None,
    data: dict | None = None,
    key: str | None = None,
) -> None:
    """Queue one `workers.audit.append_event` job for this event.

    `key` makes the event idempotent: pass a natural one (`"webhook.received:<delivery>"`)
    when this call may run twice; without it a new uuid4 is used, which still keeps a
    retried audit job from writing twice. Secret-looking values are redacted and
    overlong text is shortened (both listed in `data`): what an event carries never stops
    it. Raises ValueError for an unknown type or data that is not JSON (a caller's bug);
    TransientError when the job could not be queued (or, in eager mode, not written).
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown audit event type {type!r}")
    fields = {
        "ts": format_ts(datetime.now(UTC)),
        "type": type,
        "installation_id": installation_id,
        "repository": repository,
        "actor": actor,
        "agent": agent,
        "subject": subject,
        "decision": decision,
        "reason": reason,
        "data": data,
        "key": key or str(uuid.uuid4()),
    }
    event = normalise_event(clip_text(redact_secrets(fields), TEXT_LIMITS))
    task = _append_task()
    try:
        # Eager mode runs the job inline and propagates its failure (a Retry included).
        task.apply_async(args=(event,))
    except Exception as exc:
        log.error("audit.not_queued", type=type, key=event["key"], error=_type_name(exc))
        raise TransientError(f"the audit event was not queued: {_type_name(exc)}") from exc


def _type_name(exc: BaseException) -> str:
    return type(exc).__name__


def _append_task() -> Any:
    """The append task of the current Flask app's Celery app (else Celery's default app)."""
    from flask import current_app, has_app_context

    import workers.audit  # noqa: F401 - registers the task on every Celery app

    if has_app_context() and "celery" in current_app.extensions:
        return current_app.extensions["celery"].tasks[APPEND_TASK]
    from celery import current_app as current_celery

    return current_celery.tasks[APPEND_TASK]
