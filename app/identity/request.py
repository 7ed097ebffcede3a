"""The body of `POST /api/tokens`, checked strictly: every mistake gets a clear 400."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.identity.authorise import LEVELS
from app.policy.permissions import KNOWN_PERMISSIONS

MAX_BODY_BYTES = 16 * 1024
MIN_TTL, MAX_TTL = 60, 3600
MAX_TASK_CHARS = 2000
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
ESCALATION_ID = re.compile(r"^[0-9a-f]{32}$")
FIELDS = frozenset({"repository", "permissions", "ttl", "task", "escalation"})


class MalformedRequest(ValueError):
    """The body is not a valid token request: answered with 400 and this reason."""


@dataclass(frozen=True)
class TokenRequest:
    repository: str
    permissions: dict[str, str]
    ttl: int | None
    task: str
    escalation: str | None


def parse_token_request(body: bytes) -> TokenRequest:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedRequest("the body must be a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise MalformedRequest(f"unknown keys: {', '.join(unknown)}")
    repository = data.get("repository")
    if not isinstance(repository, str) or not REPOSITORY.match(repository):
        raise MalformedRequest("repository must be 'owner/repo'")
    if repository.split("/", 1)[1] in (".", ".."):
        raise MalformedRequest("repository must be 'owner/repo'")
    return TokenRequest(
        repository=repository,
        permissions=_permissions(data.get("permissions")),
        ttl=_ttl(data.get("ttl")),
        task=_task(data.get("task")),
        escalation=_escalation(data.get("escalation")),
    )


def _permissions(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise MalformedRequest("permissions must be a non-empty mapping of name to read|write")
    for name, level in value.items():
        if name not in KNOWN_PERMISSIONS:
            raise MalformedRequest(f"unknown permission {name[:64]!r}")
        if level not in LEVELS:
            raise MalformedRequest(f"permission {name} must be read or write")
    return dict(value)


def _ttl(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_TTL <= value <= MAX_TTL:
        raise MalformedRequest(f"ttl must be an integer number of seconds, {MIN_TTL}..{MAX_TTL}")
    return value


def _task(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TASK_CHARS:
        raise MalformedRequest(f"task must be a string of at most {MAX_TASK_CHARS} characters")
    return value


def _escalation(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not ESCALATION_ID.match(value):
        raise MalformedRequest("escalation must be an escalation id")
    return value
