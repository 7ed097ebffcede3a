"""The app's webhook deliveries: list (cursor pagination), get, and redeliver.

GitHub keeps every delivery attempt of an app's webhook for three days and never
retries a failed one by itself; an app lists them and asks for a redelivery, which
GitHub sends asynchronously with the same `X-GitHub-Delivery` GUID. The simulator's
`Story.deliver` records every attempt in `world.deliveries`; a delivery's id is its
position there (1-based), so ids grow with time as GitHub's do.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

import structlog

from app.simulator import render
from app.simulator.http import APP, MAX_PER_PAGE, Call, HttpError, Reply, Routes
from app.simulator.model import Delivery
from app.simulator.story import Story
from app.simulator.validation import Refused

routes = Routes()
log = structlog.get_logger()
CURSOR_PREFIX = "v1_"


def delivery_status(record: Delivery) -> str:
    """GitHub's `status` text: `OK`, or what went wrong."""
    if 200 <= record.status_code < 300:
        return "OK"
    if record.status_code == 0:
        return "Failed to connect to host"
    return f"Invalid HTTP Response: {record.status_code}"


def item(call: Call, delivery_id: int, record: Delivery) -> dict[str, Any]:
    """One entry of `GET /app/hook/deliveries` (GitHub's `hook-delivery-item`)."""
    repository = (record.payload.get("repository") or {}).get("id")
    return {
        "id": delivery_id,
        "guid": record.guid,
        "delivered_at": render.iso(record.delivered_at),
        "redelivery": record.redelivery,
        "duration": round(record.duration, 3),
        "status": delivery_status(record),
        "status_code": record.status_code,
        "event": record.event,
        "action": record.action,
        "installation_id": record.installation_id,
        "repository_id": repository,
        "throttled_at": None,
    }


def _own(call: Call) -> list[tuple[int, Delivery]]:
    """The caller app's deliveries, newest first, with their ids."""
    return [
        (index + 1, record)
        for index, record in reversed(list(enumerate(call.world.deliveries)))
        if record.app_id == call.auth.app_id
    ]


def _delivery(call: Call) -> tuple[int, Delivery]:
    delivery_id = call.number("delivery_id")
    for found_id, record in _own(call):
        if found_id == delivery_id:
            return found_id, record
    raise HttpError(404, "Not Found")


def _per_page(call: Call) -> int:
    try:
        per_page = int(call.query.get("per_page", 30))
    except ValueError:
        raise Refused(422, "Validation Failed", "query", "per_page is not an integer") from None
    return min(max(per_page, 1), MAX_PER_PAGE)


def _cursor(call: Call) -> int | None:
    """The id to start below (exclusive); None for the newest page."""
    raw = call.query.get("cursor")
    if not raw:
        return None
    if not raw.startswith(CURSOR_PREFIX) or not raw[len(CURSOR_PREFIX) :].isdigit():
        raise Refused(422, "Validation Failed: invalid cursor", "query", f"cursor {raw!r}")
    return int(raw[len(CURSOR_PREFIX) :])


@routes.get("/app/hook/deliveries", auth=APP)
def list_deliveries(call: Call) -> Reply:
    """Newest first; `Link: <...?cursor=v1_<id>>; rel="next"` while older ones remain.

    `status=success|failure` keeps only the attempts that got (or did not get) a 2xx.
    """
    per_page, below = _per_page(call), _cursor(call)
    wanted = call.query.get("status")
    if wanted not in (None, "success", "failure"):
        message = "Validation Failed: status must be success or failure"
        raise Refused(422, message, "query", f"status {wanted!r}")
    older = [
        (i, record)
        for i, record in _own(call)
        if (below is None or i < below)
        and (wanted is None or (delivery_status(record) == "OK") == (wanted == "success"))
    ]
    chunk = older[:per_page]
    headers = {}
    if len(older) > per_page:
        query = {
            **call.query,
            "per_page": str(per_page),
            "cursor": f"{CURSOR_PREFIX}{chunk[-1][0]}",
        }
        headers["Link"] = f'<{call.base_url}{call.path}?{urlencode(query)}>; rel="next"'
    return Reply(200, [item(call, i, record) for i, record in chunk], headers)


@routes.get("/app/hook/deliveries/{delivery_id}", auth=APP)
def get_delivery(call: Call) -> Reply:
    delivery_id, record = _delivery(call)
    body = item(call, delivery_id, record)
    app = call.world.apps.get(record.app_id or 0)
    body["url"] = app.webhook_url if app else ""
    body["request"] = {
        "headers": {"X-GitHub-Event": record.event, "X-GitHub-Delivery": record.guid},
        "payload": record.payload,
    }
    body["response"] = {"headers": {}, "payload": None}
    return Reply(200, body)


@routes.post("/app/hook/deliveries/{delivery_id}/attempts", auth=APP)
def redeliver(call: Call) -> Reply:
    """Accepted now, sent after the reply (the app may call back while handling it)."""
    _, record = _delivery(call)
    story = Story(call.world)

    def send() -> None:
        try:
            story.deliver(record.event, record.payload, app_id=record.app_id, guid=record.guid)
        except Exception as exc:  # recorded as a failed attempt by `deliver`
            log.info("simulator.redelivery_failed", guid=record.guid, error=type(exc).__name__)

    threading.Thread(target=send, name="github-redelivery", daemon=True).start()
    return Reply(202, {})
