"""The one task every webhook delivery becomes: audit it, then route it to its handlers."""

from __future__ import annotations

import base64
import functools
import json
import uuid
import zlib
from typing import Any

import structlog
from celery import Celery, shared_task

from app.audit.emit import emit
from app.services import services
from workers import deployments, gate, guards, tokens
from workers.router import Router, dispatch

log = structlog.get_logger()


def routers() -> list[Router]:
    """Every concern's router, combined in one place."""
    return [gate.router, tokens.router, deployments.router, guards.router]


NOT_AN_APP_DELIVERY = "not an app delivery: the payload carries no installation"


def _repository(payload: dict[str, Any]) -> str | None:
    repo = payload.get("repository")
    return repo.get("full_name") if isinstance(repo, dict) else None


def _account(payload: dict[str, Any]) -> str | None:
    """The organisation (or enterprise) an event without a repository is about."""
    for key in ("organization", "enterprise"):
        found = payload.get(key)
        if isinstance(found, dict) and (found.get("login") or found.get("slug")):
            return f"{key}:{found.get('login') or found.get('slug')}"
    return None


# A delivery's task message is compressed (Celery's `compression`, which kombu undoes
# before the worker sees it): GitHub's payloads are mostly repeated hypermedia URLs and
# shrink about sevenfold, and so does the broker's memory for a backlog of them.
COMPRESSION = "zlib"
ZLIB_CONTENT_TYPE = "application/x-gzip"  # the header kombu writes for, and reads as, zlib


@shared_task(name="workers.webhooks.process_delivery", compression=COMPRESSION, leased=True)
def process_delivery(event: str, delivery: str, payload: dict[str, Any]) -> int:
    """Handle one accepted delivery. Idempotent: a redelivered task re-runs safely."""
    found = payload.get("installation")
    installation = found.get("id") if isinstance(found, dict) else None
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
    ignored = ignored_because(event, payload, installation)
    emit(
        "webhook.received",
        subject=repository
        or _account(payload)
        or (f"installation:{installation}" if installation else f"webhook:{event}"),
        installation_id=installation,
        repository=repository,
        actor=sender,
        decision="ignored" if ignored else None,
        reason=ignored,
        data={
            "event": event,
            "action": payload.get("action"),
            "delivery": delivery,
            "sender": sender,
        },
        key=f"webhook.received:{delivery}",
    )
    if ignored:
        log.info("webhook.ignored", reason=ignored, handlers=0)
        return 0
    handled = dispatch(routers(), event, payload, services())
    log.info("webhook.processed", handlers=handled)
    return handled


def ignored_because(event: str, payload: dict[str, Any], installation: Any) -> str | None:
    """Why no handler runs for the delivery, or None when some do.

    Repository and organisation webhooks send the same events as an app, without an
    installation: nothing can be done for them (there is no token to act with), so they
    stop here, in one place, rather than in each handler.
    """
    if not isinstance(installation, int):
        return NOT_AN_APP_DELIVERY
    action = payload.get("action")
    if not any(router.handlers(event, action) for router in routers()):
        return f"no handler for {event}" + (f".{action}" if action else "")
    return None


def delivery_argsrepr(event: str, delivery: str) -> str:
    """The task's `argsrepr`: short, it spares Celery a repr of the whole payload and
    keeps the payload out of message headers."""
    return f"({event!r}, {delivery!r}, <payload>)"


# Placeholders in the cached envelope for what differs per delivery (JSON-safe text).
_TASK_ID, _ARGSREPR, _TAG = "@@task-id@@", "@@argsrepr@@", "@@delivery-tag@@"


@functools.lru_cache(maxsize=8)
def _envelope(app: Celery, reply_to: str) -> tuple[str, str, str]:
    """The queue, the task body's tail (`kwargs, embed`) and kombu's envelope of a
    `process_delivery` message, as Celery builds it (protocol 2), with placeholders:
    built once per app and thread (`reply_to`), filled in per delivery."""
    queue = app.amqp.router.route({}, process_delivery.name)["queue"].name
    headers, properties, (_, kwargs, embed), _ = app.amqp.create_task_message(
        _TASK_ID,
        process_delivery.name,
        (None, None, None),
        {},
        reply_to=reply_to,
        ignore_result=app.conf.task_ignore_result,
        argsrepr=_ARGSREPR,
        kwargsrepr="{}",
    )
    envelope = json.dumps(
        {
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {**headers, "compression": ZLIB_CONTENT_TYPE},
            "properties": {
                **properties,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": _TAG,
            },
        }
    )
    return queue, f"{json.dumps(kwargs)}, {json.dumps(embed)}]", envelope


def delivery_message(event: str, delivery: str, document: str) -> tuple[str, str]:
    """`process_delivery`'s task message as kombu's Redis transport stores it: the list
    to push onto, and the message. `document` is the payload's JSON text, as received
    and already parsed once: it goes into the message as it is, not encoded again.
    The body is compressed at zlib's fastest level (kombu's own would use level 6, at
    2.6 times the CPU for a 10% smaller message); any level decompresses alike.

    The intake pushes it itself, in the one Redis call that also records the delivery
    id, rather than through `apply_async` (three round trips and most of the intake's
    CPU, docs/benchmarks.md). Celery builds the task message once per process
    (`_envelope`); a test holds the result equal to what Celery and kombu write.
    """
    app = process_delivery.app
    queue, tail, envelope = _envelope(app, app.thread_oid)
    argsrepr = json.dumps(delivery_argsrepr(event, delivery))[1:-1]
    rest = (
        envelope.replace(_TASK_ID, str(uuid.uuid4()))
        .replace(_ARGSREPR, argsrepr)
        .replace(_TAG, str(uuid.uuid4()))
    )
    body = f"[[{json.dumps(event)}, {json.dumps(delivery)}, {document}], {tail}"
    # Base64 needs no JSON escaping: the long body is spliced in rather than scanned.
    encoded = base64.b64encode(zlib.compress(body.encode(), 1)).decode()
    return queue, f'{{"body": "{encoded}", {rest[1:]}'
