"""Webhook intake: verify, de-duplicate, enqueue, answer. No GitHub call on this path."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

import structlog
from flask import Blueprint, Response, jsonify, request

from app import metrics
from app.services import services
from app.state import SharedStateUnavailable
from workers.webhooks import process_delivery

bp = Blueprint("webhooks", __name__)
log = structlog.get_logger()

# GitHub lets an app redeliver a delivery for three days: remember ids that long.
DEDUPE_TTL = 3 * 24 * 3600
QUEUING, QUEUED, QUEUING_TTL = "queuing", "queued", 60.0
# GitHub caps payloads at 25 MB (the app's MAX_CONTENT_LENGTH).
MAX_BODY = 25 * 1024 * 1024


def signature_valid(secret: str | None, body: bytes, header: str | None) -> bool:
    """Constant-time check of `X-Hub-Signature-256` (`sha256=<hex HMAC of the body>`)."""
    if not secret or not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "replace"))


def parse_payload(body: bytes, content_type: str) -> dict[str, Any] | None:
    """The JSON object of a delivery (`application/json` or GitHub's form encoding)."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
            body = form["payload"][0].encode()
        payload = json.loads(body)
    except (ValueError, KeyError, UnicodeDecodeError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _answer(status: int, event: str, outcome: str, **body: Any) -> tuple[Response, int]:
    metrics.DELIVERIES.labels(event or "unknown", outcome).inc()
    return jsonify(status=outcome, **body), status


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
    payload = parse_payload(body, request.content_type or "application/json")
    if payload is None:
        return _answer(400, event, "malformed", reason="the body is not a JSON object")

    # The id is held as "queuing" for a short while, then remembered as "queued" for the
    # redelivery window. If the shared state fails in between, the short hold expires and
    # a redelivery is accepted: a delivery is never answered "duplicate" unless queued.
    key = f"delivery:{delivery}"
    try:
        if not deps.state.add_if_absent(key, QUEUING, QUEUING_TTL):
            if deps.state.get(key) == QUEUING:
                return _answer(503, event, "unavailable", reason="the delivery is being queued")
            return _answer(200, event, "duplicate", delivery=delivery)
    except SharedStateUnavailable as exc:
        log.error("webhook.not_queued", delivery=delivery, github_event=event, error=str(exc))
        return _answer(503, event, "unavailable", reason="could not record the delivery")

    try:
        # A short argsrepr spares Celery a repr of the whole payload (a third of the
        # intake's CPU, docs/BENCHMARKS.md) and keeps payloads out of message headers.
        process_delivery.apply_async(
            args=(event, delivery, payload), argsrepr=f"({event!r}, {delivery!r}, <payload>)"
        )
    except Exception as exc:
        # Forget the id so that GitHub's redelivery of this event is accepted.
        try:
            deps.state.delete(key)
        except SharedStateUnavailable:
            log.error("webhook.dedupe_key_held", delivery=delivery, expires_in=QUEUING_TTL)
        log.error("webhook.not_queued", delivery=delivery, github_event=event, error=str(exc))
        return _answer(503, event, "unavailable", reason="could not queue the delivery")
    try:
        deps.state.set(key, QUEUED, DEDUPE_TTL)
    except SharedStateUnavailable:
        # Queued all the same; a redelivery after the short hold runs again (idempotent).
        log.warning("webhook.dedupe_not_extended", delivery=delivery)
    log.info("webhook.queued", delivery=delivery, github_event=event, action=payload.get("action"))
    return _answer(202, event, "queued", delivery=delivery)
