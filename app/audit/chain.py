"""The audit event's shape, its canonical JSON form and the hash chain. Pure: no I/O.

An outside verifier needs only this: for each event in `seq` order,
`hash == sha256(canonical(event without "hash"))` and `prev_hash` equals the previous
event's `hash` (64 zeros before the first).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

EVENT_TYPES = frozenset(
    {
        "webhook.received",
        "gate.evaluated",
        "check.published",
        "token.issued",
        "token.denied",
        "token.revoked",
        "escalation.requested",
        "escalation.approved",
        "escalation.denied",
        "deployment.approved",
        "deployment.rejected",
        "workflow_run.cancelled",
        "workflow_run.flagged",
        "push.flagged",
        "policy.invalid",
        "config.drift",
    }
)

# Every field the hash covers, i.e. everything stored except `hash` itself.
HASHED_FIELDS = (
    "seq",
    "ts",
    "type",
    "installation_id",
    "repository",
    "actor",
    "agent",
    "subject",
    "decision",
    "reason",
    "data",
    "key",
    "prev_hash",
)
# The fields a caller provides; `seq` and `prev_hash` are assigned when appending.
EVENT_FIELDS = tuple(name for name in HASHED_FIELDS if name not in ("seq", "prev_hash"))
TEXT_LIMITS = {
    "type": 64,
    "repository": 256,
    "actor": 256,
    "agent": 512,
    "subject": 512,
    "decision": 64,
    "reason": 2000,
    "key": 256,
}


def format_ts(moment: datetime) -> str:
    """The one timestamp form: UTC, microseconds, `Z` (so text order is time order)."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str) -> datetime:
    """An ISO 8601 timestamp with an offset (or `Z`), as an aware datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return moment


def canonical(obj: dict[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (non-ASCII as is), JSON literals for null/true/false."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(event: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical form of exactly the HASHED_FIELDS of `event`."""
    return hashlib.sha256(canonical({name: event[name] for name in HASHED_FIELDS})).hexdigest()


def normalise_event(event: dict[str, Any]) -> dict[str, Any]:
    """Check an event dict's fields and types; return it with `ts` in the one form.

    Raises ValueError for anything a well-behaved `emit` would never produce.
    """
    unknown = set(event) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown audit event fields: {sorted(unknown)}")
    if event.get("type") not in EVENT_TYPES:
        raise ValueError(f"unknown audit event type {event.get('type')!r}")
    clean: dict[str, Any] = {name: event.get(name) for name in EVENT_FIELDS}
    for name in ("type", "subject", "key"):
        if not isinstance(clean[name], str) or not clean[name]:
            raise ValueError(f"audit event field {name!r} must be a non-empty string")
    for name, limit in TEXT_LIMITS.items():
        value = clean[name]
        if value is not None and not isinstance(value, str):
            raise ValueError(f"audit event field {name!r} must be a string or null")
        if value is not None and len(value) > limit:
            raise ValueError(f"audit event field {name!r} is longer than {limit} characters")
    installation_id = clean["installation_id"]
    if installation_id is not None and (
        not isinstance(installation_id, int) or isinstance(installation_id, bool)
    ):
        raise ValueError("audit event field 'installation_id' must be an integer or null")
    if clean["data"] is None:
        clean["data"] = {}
    if not isinstance(clean["data"], dict):
        raise ValueError("audit event field 'data' must be a JSON object")
    try:
        # Round-trip so that what is hashed is exactly what the database gives back.
        clean["data"] = json.loads(canonical(clean["data"]))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit event data is not JSON-serialisable: {exc}") from exc
    if not isinstance(clean["ts"], str):
        raise ValueError("audit event field 'ts' must be an ISO 8601 string")
    clean["ts"] = format_ts(parse_ts(clean["ts"]))
    return clean


def chained(event: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """The stored row of a normalised event appended after `prev_hash`."""
    row = {**event, "seq": seq, "prev_hash": prev_hash}
    row["hash"] = event_hash(row)
    return row
