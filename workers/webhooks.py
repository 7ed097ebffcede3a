"""The one task every webhook delivery becomes: audit it, then route it to its handlers."""

from __future__ import annotations

import base64
import json
import uuid
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


def delivery_message(event: str, delivery: str, document: str) -> tuple[str, str]:
    """`process_delivery`'s task message as kombu's Redis transport stores it: the list
    to push onto, and the message. `document` is the payload's JSON text, as received
    and already parsed once: it goes into the message as it is, not encoded again.

    The intake pushes it itself, in the one Redis call that also records the delivery
    id, rather than through `apply_async` (three round trips and most of the intake's
    CPU, docs/BENCHMARKS.md). Celery builds the task message (protocol 2); the body
    (`[args, kwargs, embed]`) and kombu's envelope are written here, and a test holds
    both equal to what Celery and kombu write.
    """
    app = process_delivery.app
    queue = app.amqp.router.route({}, process_delivery.name)["queue"].name
    task_id = str(uuid.uuid4())
    headers, properties, (_, kwargs, embed), _ = app.amqp.create_task_message(
        task_id,
        process_delivery.name,
        (event, delivery, None),
        {},
        reply_to=app.thread_oid,
        ignore_result=app.conf.task_ignore_result,
        # A short argsrepr spares a repr of the whole payload and keeps it out of headers.
        argsrepr=f"({event!r}, {delivery!r}, <payload>)",
    )
    head = f"[[{json.dumps(event)}, {json.dumps(delivery)}, "
    body = f"{head}{document}], {json.dumps(kwargs)}, {json.dumps(embed)}]"
    rest = json.dumps(
        {
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                **properties,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )
    # Base64 needs no JSON escaping: the long body is spliced in rather than scanned.
    encoded = base64.b64encode(body.encode()).decode()
    return queue, f'{{"body": "{encoded}", {rest[1:]}'
