"""Defence in depth: refuse audit events that carry a secret.

Callers record a token's SHA-256, never the token; this guard catches the mistake
before the event reaches the broker, the database or a log line. Error messages name
where the secret is, never the secret.
"""

from __future__ import annotations

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
# refresh) and PEM private keys.
SECRET_VALUE = re.compile(
    r"(?<![A-Za-z0-9])(?:gh[spour]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


def find_secret(value: Any, path: str = "data") -> str | None:
    """The path of the first secret-looking key or value inside `value`, else None."""
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}[{key!r}]"
            if isinstance(key, str) and key.lower() in SECRET_KEYS:
                return where
            found = find_secret(item, where)
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_secret(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return path
    return None


def refuse_secrets(fields: dict[str, Any]) -> None:
    """Raise ValueError when any field of an event (or a key inside `data`) holds a secret."""
    for name, value in fields.items():
        found = find_secret(value, name)
        if found:
            raise ValueError(
                f"refusing to audit {found}: it is named or looks like a secret "
                "(record a SHA-256 or an id instead)"
            )
