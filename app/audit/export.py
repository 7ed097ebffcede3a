"""Export the log line by line: JSON Lines of the stored events, or OCSF API Activity."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.orm import Session

from app.audit.chain import canonical, parse_ts
from app.audit.query import stream

FORMATS = ("jsonl", "ocsf")
OCSF_VERSION = "1.1.0"
OCSF_CLASS_UID = 6003  # API Activity
OCSF_CATEGORY_UID = 6  # Application Activity

CREATE, READ, UPDATE, DELETE, OTHER = 1, 2, 3, 4, 99
ACTIVITY_NAMES = {
    CREATE: "Create",
    READ: "Read",
    UPDATE: "Update",
    DELETE: "Delete",
    OTHER: "Other",
}
ACTIVITY = {
    "webhook.received": CREATE,
    "gate.evaluated": READ,
    "check.published": UPDATE,
    "token.issued": CREATE,
    "token.denied": CREATE,
    "token.revoked": DELETE,
    "escalation.requested": CREATE,
    "escalation.approved": UPDATE,
    "escalation.denied": UPDATE,
    "deployment.approved": UPDATE,
    "deployment.rejected": UPDATE,
    "workflow_run.cancelled": UPDATE,
    "workflow_run.flagged": READ,
    "push.flagged": OTHER,
    "policy.invalid": READ,
    "config.drift": OTHER,
}
SUCCESS, FAILURE = 1, 2
FAILED_TYPES = frozenset({"token.denied", "escalation.denied", "deployment.rejected"})
FAILED_DECISIONS = frozenset({"deny", "denied", "reject", "rejected", "refused", "failure"})
# Everything of the event that has no OCSF attribute of its own goes to `unmapped`.
UNMAPPED = ("installation_id", "repository", "decision", "reason", "data", "key", "prev_hash")


def epoch_ms(ts: str) -> int:
    moment: datetime = parse_ts(ts)
    return int(moment.timestamp() * 1000)


def status_id(event: dict[str, Any]) -> int:
    """Failure for a refusal (a denied token, escalation or deployment, a `deny` decision)."""
    if event["type"] in FAILED_TYPES or (event["decision"] or "").lower() in FAILED_DECISIONS:
        return FAILURE
    return SUCCESS


def resource_type(subject: str) -> str:
    """`token:ID` -> token; `owner/repo#N` -> pull_request; `owner/repo@SHA` -> commit."""
    prefix, sep, _ = subject.partition(":")
    if sep and "/" not in prefix:
        return prefix
    if "#" in subject:
        return "pull_request"
    if "@" in subject:
        return "commit"
    return "repository"


def to_ocsf(event: dict[str, Any]) -> dict[str, Any]:
    """One stored event (`AuditEvent.to_dict()`) as an OCSF 1.1 API Activity event."""
    activity_id = ACTIVITY.get(event["type"], OTHER)
    status = status_id(event)
    actor: dict[str, Any] = {}
    if event["actor"]:
        actor["user"] = {"name": event["actor"], "type_id": 1, "type": "User"}
    if event["agent"]:
        actor["app_name"] = event["agent"]
    resources = [{"name": event["subject"], "type": resource_type(event["subject"])}]
    if event["repository"] and event["repository"] != event["subject"]:
        resources.append({"name": event["repository"], "type": "repository"})
    out: dict[str, Any] = {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "API Activity",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": ACTIVITY_NAMES[activity_id],
        "type_uid": OCSF_CLASS_UID * 100 + activity_id,
        "severity_id": 1,
        "severity": "Informational",
        "time": epoch_ms(event["ts"]),
        "status_id": status,
        "status": "Success" if status == SUCCESS else "Failure",
        "message": event["reason"] or event["type"],
        "actor": actor,
        "api": {"operation": event["type"], "service": {"name": "foureyes"}},
        "cloud": {"provider": "GitHub"},
        "resources": resources,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "foureyes", "vendor_name": "foureyes"},
            "uid": event["hash"],
            "sequence": event["seq"],
            "correlation_uid": event["subject"],
            "original_time": event["ts"],
        },
        "unmapped": {name: event[name] for name in UNMAPPED if event[name] not in (None, {})},
    }
    if event["decision"]:
        out["status_detail"] = event["decision"]
    return out


def lines(session: Session, fmt: str, since: datetime | None = None) -> Iterator[str]:
    """The export, one JSON document per line (with its newline), in seq order."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {FORMATS})")
    for event in stream(session, since=since):
        document = to_ocsf(event) if fmt == "ocsf" else event
        yield canonical(document).decode("utf-8") + "\n"


def write(session: Session, out: TextIO, fmt: str, since: datetime | None = None) -> int:
    """Write the export to `out` line by line; return the number of events."""
    count = 0
    for line in lines(session, fmt, since):
        out.write(line)
        count += 1
    return count
