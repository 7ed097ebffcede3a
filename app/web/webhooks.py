"""Webhook intake: verify, de-duplicate, enqueue, answer. No GitHub call on this path."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from flask import Blueprint, Response, request

from app import metrics
from app.services import services
from app.state import RedisState, SharedState, SharedStateUnavailable
from workers.webhooks import delivery_argsrepr, delivery_message, process_delivery

bp = Blueprint("webhooks", __name__)
log = structlog.get_logger()

# GitHub lets an app redeliver a delivery for three days: remember ids that long.
DEDUPE_TTL = 3 * 24 * 3600
QUEUING, QUEUED, QUEUING_TTL = "queuing", "queued", 60.0
# GitHub caps payloads at 25 MB (the app's MAX_CONTENT_LENGTH).
MAX_BODY = 25 * 1024 * 1024
# Far deeper than any GitHub payload, well within what the worker's JSON decoder reads.
MAX_DEPTH = 512


def signature_valid(secret: str | None, body: bytes, header: str | None) -> bool:
    """Constant-time check of `X-Hub-Signature-256` (`sha256=<hex HMAC of the body>`)."""
    if not secret or not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "replace"))


def parse_payload(body: bytes, content_type: str) -> tuple[dict[str, Any], str] | None:
    """The JSON object of a delivery (`application/json` or GitHub's form encoding), and
    its JSON text; None when it is not one the worker can read.

    orjson parses it: strict RFC 8259 (no NaN, no lone surrogates, UTF-8 checked), at
    about half the standard library's CPU, the intake's largest item after the broker call
    (docs/benchmarks.md). orjson has no nesting limit, but the worker decodes the task
    with the standard library, which recurses: nesting beyond `MAX_DEPTH` is refused here
    rather than accepted and then lost."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            document = parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"][0]
            payload = orjson.loads(document)
        else:
            payload = orjson.loads(body)
            document = body.decode("utf-8")
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict):
        return None
    # A document cannot nest deeper than it has brackets: the walk is for big ones only.
    brackets = document.count("{") + document.count("[")
    if brackets > MAX_DEPTH and nesting(payload) > MAX_DEPTH:
        return None
    return payload, document


def nesting(value: Any) -> int:
    """How deeply objects and arrays nest in `value` (0 for a scalar); iterative."""
    deepest, pending = 0, [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        pending.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _answer(status: int, event: str, outcome: str, **body: Any) -> tuple[Response, int]:
    metrics.DELIVERIES.labels(event or "unknown", outcome).inc()
    document = orjson.dumps({"status": outcome, **body})
    return Response(document, status, mimetype="application/json"), status


@bp.post("/api/github/webhooks")
def receive() -> tuple[Response, int]:
    deps = services()
    body = request.get_data(cache=False)
    if request.content_length is None and len(body) >= (request.max_content_length or MAX_BODY):
        # A chunked body is read only up to the limit (werkzeug truncates, it does not
        # refuse): one that reaches it is over the limit, not a bad signature.
        return _answer(413, "", "too_large", reason="the body is larger than 25 MB")
    event = request.headers.get("X-GitHub-Event", "")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    if not signature_valid(
        deps.settings.webhook_secret, body, request.headers.get("X-Hub-Signature-256")
    ):
        log.warning("webhook.bad_signature", delivery=delivery[:64], github_event=event[:64])
        return _answer(401, "", "unauthorized", reason="bad or missing X-Hub-Signature-256")
    if not event or not delivery or len(event) > 64 or len(delivery) > 128:
        return _answer(400, "", "malformed", reason="X-GitHub-Event and X-GitHub-Delivery needed")
    parsed = parse_payload(body, request.content_type or "application/json")
    if parsed is None:
        return _answer(400, event, "malformed", reason="the body is not a JSON object")
    payload, document = parsed

    key = f"delivery:{delivery}"
    if isinstance(deps.state, RedisState) and not deps.settings.eager:
        return _queue_on_redis(deps.state, key, event, delivery, payload, document)
    return _queue_in_steps(deps.state, key, event, delivery, payload)


def _queue_on_redis(
    state: RedisState,
    key: str,
    event: str,
    delivery: str,
    payload: dict[str, Any],
    document: str,
) -> tuple[Response, int]:
    """Record the id and push the task in one atomic Redis call (the state's Redis is the
    broker): the delivery is queued and remembered for the redelivery window, or neither."""
    queue, message = delivery_message(event, delivery, document)
    try:
        held = state.add_and_push(key, QUEUED, DEDUPE_TTL, queue, message)
    except SharedStateUnavailable as exc:
        log.error("webhook.not_queued", delivery=delivery, github_event=event, error=str(exc))
        return _answer(503, event, "unavailable", reason="could not queue the delivery")
    if held is not None:
        return _already(held, event, delivery)
    return _queued(event, delivery, payload)


def _queue_in_steps(
    state: SharedState, key: str, event: str, delivery: str, payload: dict[str, Any]
) -> tuple[Response, int]:
    """The embedded broker (no Redis) cannot share a transaction with the state: the id
    is held as "queuing" for a short while, then remembered as "queued" for the
    redelivery window. If the state fails in between, the short hold expires and a
    redelivery is accepted: a delivery is never answered "duplicate" unless queued."""
    try:
        if not state.add_if_absent(key, QUEUING, QUEUING_TTL):
            return _already(state.get(key), event, delivery)
    except SharedStateUnavailable as exc:
        log.error("webhook.not_queued", delivery=delivery, github_event=event, error=str(exc))
        return _answer(503, event, "unavailable", reason="could not record the delivery")

    try:
        process_delivery.apply_async(
            args=(event, delivery, payload), argsrepr=delivery_argsrepr(event, delivery)
        )
    except Exception as exc:
        # Forget the id so that GitHub's redelivery of this event is accepted.
        try:
            state.delete(key)
        except SharedStateUnavailable:
            log.error("webhook.dedupe_key_held", delivery=delivery, expires_in=QUEUING_TTL)
        log.error("webhook.not_queued", delivery=delivery, github_event=event, error=str(exc))
        return _answer(503, event, "unavailable", reason="could not queue the delivery")
    try:
        state.set(key, QUEUED, DEDUPE_TTL)
    except SharedStateUnavailable:
        # Queued all the same; a redelivery after the short hold runs again (idempotent).
        log.warning("webhook.dedupe_not_extended", delivery=delivery)
    return _queued(event, delivery, payload)


def _already(held: str | None, event: str, delivery: str) -> tuple[Response, int]:
    """A known id: a duplicate only once queued; still being queued (or a hold that just
    expired), GitHub should try again."""
    if held == QUEUED:
        return _answer(200, event, "duplicate", delivery=delivery)
    return _answer(503, event, "unavailable", reason="the delivery is being queued")


def _queued(event: str, delivery: str, payload: dict[str, Any]) -> tuple[Response, int]:
    # At debug: an accepted delivery is counted (metrics), audited (`webhook.received`)
    # and logged with its outcome by the worker that handles it; the intake logs what fails.
    log.debug("webhook.queued", delivery=delivery, github_event=event, action=payload.get("action"))
    return _answer(202, event, "queued", delivery=delivery)
