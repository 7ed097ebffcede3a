"""Defence in depth: no secret reaches the audit log, and no input silences it.

Callers record a token's SHA-256, never the token; this guard catches the mistake
before the event reaches the broker, the database or a log line. Much of what an event
carries is chosen by whoever acted on GitHub (branch names, labels, commit messages), so
a secret-looking value is replaced, never a reason to drop the event: an agent that
names its branch `fix/ghs_…` must still be audited and flagged (DESIGN invariant 13).
The event lists where it was redacted in `data.redacted`; a replacement carries a short
SHA-256 of what it replaced, so distinct values stay distinct (idempotency keys too).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

SECRET_KEYS = frozenset(
    {
        "token",
        "private_key",
        "secret",
        "password",
        "access_token",
        "refresh_token",
        "client_secret",
        "webhook_secret",
    }
)
# GitHub's token formats (installation, personal, fine-grained, OAuth, user-to-server,
# refresh) and PEM private keys (the whole block: its body is the secret).
SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[spour]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)",
    re.DOTALL,
)
REDACTED_FIELD = "redacted"


def _replacement(secret: str) -> str:
    return f"[redacted sha256:{hashlib.sha256(secret.encode()).hexdigest()[:12]}]"


def _redact(value: Any, path: str, found: list[str]) -> Any:
    """`value` with every secret-looking key's value and secret-looking text replaced."""
    if isinstance(value, dict):
        clean = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            if isinstance(key, str) and key.lower() in SECRET_KEYS and item is not None:
                found.append(where)
                clean[key] = _replacement(str(item))
            else:
                clean[key] = _redact(item, where, found)
        return clean
    if isinstance(value, list | tuple):
        return [_redact(item, f"{path}[{index}]", found) for index, item in enumerate(value)]
    if isinstance(value, str) and SECRET_VALUE.search(value):
        found.append(path)
        return SECRET_VALUE.sub(lambda match: _replacement(match.group(0)), value)
    return value


def find_secrets(fields: dict[str, Any]) -> list[str]:
    """The paths (`reason`, `data.response.token`) of every secret-looking value."""
    found: list[str] = []
    _redact(fields, "", found)
    return [path.removeprefix(".") for path in found]


def redact_secrets(fields: dict[str, Any]) -> dict[str, Any]:
    """The event with every secret-looking value replaced. Never raises on content.

    The paths replaced are added to `data.redacted` (kept with any listed before, so a
    second pass, as the audit worker makes, keeps the first pass' record).
    """
    found: list[str] = []
    clean = {name: _redact(value, name, found) for name, value in fields.items()}
    if not found:
        return clean
    data = dict(clean.get("data") or {})
    earlier = data.get(REDACTED_FIELD)
    listed = [str(item) for item in earlier] if isinstance(earlier, list) else []
    data[REDACTED_FIELD] = list(dict.fromkeys([*listed, *found]))
    clean["data"] = data
    return clean


CLIPPED_FIELD = "clipped"


def clip_text(fields: dict[str, Any], limits: dict[str, int]) -> dict[str, Any]:
    """The event with each text field cut to its limit, listed in `data.clipped`.

    Text such as a reason quoting branch names can be as long as an agent makes it; a
    long one is shortened, never refused. A long `key` keeps its start and gains the
    SHA-256 of the whole, so two long keys that share a start stay distinct.
    """
    clean = dict(fields)
    clipped: list[str] = []
    for name, limit in limits.items():
        value = clean.get(name)
        if not isinstance(value, str) or len(value) <= limit:
            continue
        clipped.append(name)
        if name == "key":
            digest = hashlib.sha256(value.encode()).hexdigest()
            clean[name] = f"{value[: limit - len(digest) - 1]}:{digest}"
        else:
            clean[name] = value[: limit - 1] + "…"
    if clipped:
        data = dict(clean.get("data") or {})
        data[CLIPPED_FIELD] = clipped
        clean["data"] = data
    return clean
