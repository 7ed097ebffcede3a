"""One audit event as an OCSF 1.8.0 event of the class that fits it. Pure: no I/O.

The mapping, and why each class, is in docs/audit-ocsf.md. Every event declares no
profile: nothing here needs one, and a SIEM that validates against the class schema
rejects an attribute of an undeclared profile (`cloud`, `security_control`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from app.audit.chain import parse_ts

OCSF_VERSION = "1.8.0"
PRODUCT = {"name": "foureyes", "vendor_name": "foureyes"}
FOUREYES = {"name": "foureyes"}
GITHUB = {"name": "GitHub"}


class OcsfClass(NamedTuple):
    uid: int
    name: str
    category_uid: int
    category_name: str


API_ACTIVITY = OcsfClass(6003, "API Activity", 6, "Application Activity")
AUTHORIZE_SESSION = OcsfClass(3003, "Authorize Session", 3, "Identity & Access Management")
AUTHENTICATION = OcsfClass(3002, "Authentication", 3, "Identity & Access Management")
USER_ACCESS = OcsfClass(3005, "User Access Management", 3, "Identity & Access Management")
DETECTION_FINDING = OcsfClass(2004, "Detection Finding", 2, "Findings")
COMPLIANCE_FINDING = OcsfClass(2003, "Compliance Finding", 2, "Findings")

# type -> (class, activity_id, activity_name)
MAPPING: dict[str, tuple[OcsfClass, int, str]] = {
    "webhook.received": (API_ACTIVITY, 1, "Create"),
    "check.published": (API_ACTIVITY, 3, "Update"),
    "deployment.approved": (API_ACTIVITY, 3, "Update"),
    "deployment.rejected": (API_ACTIVITY, 3, "Update"),
    "token.issued": (AUTHORIZE_SESSION, 1, "Assign Privileges"),
    "token.denied": (AUTHORIZE_SESSION, 1, "Assign Privileges"),
    "token.revoked": (AUTHENTICATION, 2, "Logoff"),
    "escalation.requested": (USER_ACCESS, 99, "Request Privileges"),
    "escalation.approved": (USER_ACCESS, 1, "Assign Privileges"),
    "escalation.denied": (USER_ACCESS, 1, "Assign Privileges"),
    "push.flagged": (DETECTION_FINDING, 1, "Create"),
    "workflow_run.flagged": (DETECTION_FINDING, 1, "Create"),
    "workflow_run.cancelled": (DETECTION_FINDING, 1, "Create"),
    "gate.evaluated": (COMPLIANCE_FINDING, 1, "Create"),
    "policy.invalid": (COMPLIANCE_FINDING, 1, "Create"),
    "config.drift": (COMPLIANCE_FINDING, 1, "Create"),
}

# The agent did these itself, for the human in `actor`; in the others `actor` acted, or
# foureyes did (a revocation: asked by the agent, an operator or the TTL, foureyes revokes).
AGENT_ACTS = frozenset({"token.issued", "token.denied", "escalation.requested"})
FAILED_TYPES = frozenset({"token.denied", "escalation.denied", "deployment.rejected"})
FAILED_DECISIONS = frozenset({"deny", "denied", "reject", "rejected", "refused", "failure"})
PASSED_DECISIONS = frozenset({"success", "enforced"})
CONTROLS = {
    "gate.evaluated": "four-eyes merge gate: a human approves each agent pull request",
    "policy.invalid": "policy file .github/foureyes.yml is valid",
    "config.drift": "the merge gate is enforced by the repository's rulesets",
}
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
INFORMATIONAL, LOW, MEDIUM, HIGH = 1, 2, 3, 4
# The stored fields, as stored (those that are set): OCSF has no "on behalf of", so
# `actor` here keeps the human an agent acted for findable, and a finding has no actor.
UNMAPPED = (
    "installation_id",
    "repository",
    "actor",
    "agent",
    "decision",
    "reason",
    "data",
    "key",
    "prev_hash",
)


def epoch_ms(ts: str) -> int:
    return int(parse_ts(ts).timestamp() * 1000)


def failed(event: dict[str, Any]) -> bool:
    """A refusal: a denied token, escalation or deployment, or a `deny`-like decision."""
    decision = (event["decision"] or "").lower()
    return event["type"] in FAILED_TYPES or decision in FAILED_DECISIONS


def severity_id(event: dict[str, Any]) -> int:
    """Informational for routine acts; higher where a human should look."""
    kind = event["type"]
    if kind == "config.drift" and event["decision"] == "not_enforced":
        return HIGH
    if kind in ("push.flagged", "workflow_run.flagged", "workflow_run.cancelled"):
        return MEDIUM
    if kind == "policy.invalid":
        return MEDIUM
    if kind == "gate.evaluated" and event["decision"] == "failure":
        return LOW
    return INFORMATIONAL


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


def resources(event: dict[str, Any]) -> list[dict[str, str]]:
    found = [{"name": event["subject"], "type": resource_type(event["subject"])}]
    if event["repository"] and event["repository"] != event["subject"]:
        found.append({"name": event["repository"], "type": "repository"})
    return found


def agent_user(event: dict[str, Any]) -> dict[str, Any] | None:
    """The agent as an OCSF user: a service account named by its workload identity."""
    if not event["agent"]:
        return None
    return {"name": event["agent"], "type_id": 4, "type": "Service"}


def human_user(name: str | None) -> dict[str, Any] | None:
    return {"name": name, "type_id": 1, "type": "User"} if name else None


def actor(event: dict[str, Any]) -> dict[str, Any]:
    """Who acted: the agent for its own acts, else the human, else foureyes itself."""
    acting = agent_user(event) if event["type"] in AGENT_ACTS else human_user(event["actor"])
    if acting is None and event["type"] in AGENT_ACTS:
        acting = human_user(event["actor"])
    if acting:
        return {"user": acting}
    # A delivery without a sender (an installation event...) is GitHub's own act.
    return {"app_name": "GitHub" if event["type"] == "webhook.received" else "foureyes"}


def privileges(event: dict[str, Any]) -> list[str]:
    """`{"contents": "write"}` -> `["contents:write"]`; none when the event granted none."""
    granted = (event["data"] or {}).get("permissions") or {}
    return [f"{name}:{level}" for name, level in sorted(granted.items())]


def finding_info(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "uid": event["hash"],
        "title": event["reason"] or event["type"],
        "types": [event["type"]],
        "product": PRODUCT,
        "created_time": epoch_ms(event["ts"]),
    }


def class_attributes(event: dict[str, Any], ocsf_class: OcsfClass) -> dict[str, Any]:
    """What the class requires or recommends, beyond the attributes every class shares."""
    kind = event["type"]
    agent = agent_user(event) or human_user(event["actor"]) or {"name": "unknown agent"}
    token_session = {"uid": event["subject"].removeprefix("token:")}
    if ocsf_class is API_ACTIVITY:
        inbound = kind == "webhook.received"
        return {
            "actor": actor(event),
            "api": {"operation": kind, "service": FOUREYES if inbound else GITHUB},
            "src_endpoint": GITHUB if inbound else FOUREYES,
            "dst_endpoint": FOUREYES if inbound else GITHUB,
            "resources": resources(event),
        }
    if ocsf_class is AUTHORIZE_SESSION:
        return {
            "actor": actor(event),
            "user": agent,
            "privileges": privileges(event) if kind == "token.issued" else [],
            "session": token_session if kind == "token.issued" else None,
            "dst_endpoint": GITHUB,
        }
    if ocsf_class is AUTHENTICATION:
        return {
            "actor": actor(event),
            "user": agent,
            "session": token_session,
            "service": FOUREYES,
        }
    if ocsf_class is USER_ACCESS:
        return {
            "actor": actor(event),
            "user": agent,
            "privileges": privileges(event),
            "resources": resources(event),
        }
    found: dict[str, Any] = {"finding_info": finding_info(event), "resources": resources(event)}
    if ocsf_class is COMPLIANCE_FINDING:
        passed = (event["decision"] or "").lower() in PASSED_DECISIONS
        found["compliance"] = {
            "control": CONTROLS[kind],
            "status_id": 1 if passed else 3,
            "status": "Pass" if passed else "Fail",
            "status_detail": event["decision"],
        }
    return found


def to_ocsf(event: dict[str, Any]) -> dict[str, Any]:
    """One stored event (`AuditEvent.to_dict()`) as an OCSF 1.8.0 event."""
    ocsf_class, activity_id, activity_name = MAPPING[event["type"]]
    severity = severity_id(event)
    out: dict[str, Any] = {
        "class_uid": ocsf_class.uid,
        "class_name": ocsf_class.name,
        "category_uid": ocsf_class.category_uid,
        "category_name": ocsf_class.category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": ocsf_class.uid * 100 + activity_id,
        "type_name": f"{ocsf_class.name}: {activity_name}",
        "severity_id": severity,
        "severity": SEVERITY_NAMES[severity],
        "time": epoch_ms(event["ts"]),
        "message": event["reason"] or event["type"],
        "metadata": {
            "version": OCSF_VERSION,
            "product": PRODUCT,
            "profiles": [],
            "log_name": "foureyes audit",
            "event_code": event["type"],
            "uid": event["hash"],
            "sequence": event["seq"],
            "correlation_uid": event["subject"],
            "original_time": event["ts"],
        },
        "unmapped": {name: event[name] for name in UNMAPPED if event[name] not in (None, {})},
        **class_attributes(event, ocsf_class),
    }
    if ocsf_class.category_uid != 2:
        # A finding's status is its review state (New...), not the act's outcome.
        out["status_id"] = 2 if failed(event) else 1
        out["status"] = "Failure" if failed(event) else "Success"
        if event["decision"]:
            out["status_detail"] = event["decision"]
    else:
        out["status_id"], out["status"] = 1, "New"
    return {key: value for key, value in out.items() if value is not None}
