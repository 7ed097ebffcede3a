"""The agent's side of the broker: get a workload identity token, ask for a GitHub token.

Used by `foureyes token request` and `foureyes token release`; plain httpx, no app state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class ClientError(Exception):
    """The identity token could not be had, or the broker refused: shown to the user.

    `answer`: the broker's JSON answer (with its `status`) when it refused; None when no
    answer came (foureyes unreachable, no identity token)."""

    def __init__(self, message: str, answer: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.answer = answer


def identity_token(
    audience: str, id_token_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """From a file, else `FOUREYES_ID_TOKEN`, else GitHub Actions' OIDC endpoint."""
    env = os.environ if environ is None else environ
    if id_token_file is not None:
        return id_token_file.read_text().strip()
    if env.get("FOUREYES_ID_TOKEN"):
        return env["FOUREYES_ID_TOKEN"].strip()
    request_url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not request_url or not request_token:
        raise ClientError(
            "no identity token: pass --id-token-file, set FOUREYES_ID_TOKEN, or run in "
            "GitHub Actions with `permissions: id-token: write`"
        )
    try:
        response = httpx.get(
            request_url,
            params={"audience": audience},
            headers={"Authorization": f"bearer {request_token}"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise ClientError(f"GitHub Actions' OIDC endpoint is unreachable: {exc}") from exc
    if response.status_code != 200:
        raise ClientError(f"GitHub Actions' OIDC endpoint answered {response.status_code}")
    value = response.json().get("value")
    if not isinstance(value, str):
        raise ClientError("GitHub Actions' OIDC endpoint returned no token")
    return value


def parse_permissions(text: str) -> dict[str, str]:
    """`contents:write,pull_requests:write` -> {"contents": "write", ...}."""
    permissions = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, level = item.partition(":")
        if not sep or not name.strip() or not level.strip():
            raise ClientError(f"{item!r} is not NAME:read or NAME:write")
        permissions[name.strip()] = level.strip()
    if not permissions:
        raise ClientError("give at least one permission, e.g. contents:write")
    return permissions


def request_token(url: str, jwt: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/tokens; the 201 body, or ClientError carrying the broker's reason."""
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/api/tokens",
            json=body,
            headers={"Authorization": f"Bearer {jwt}"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise ClientError(f"foureyes at {url} is unreachable: {exc}") from exc
    data = _json(response)
    if response.status_code == 201:
        return data
    message = f"{response.status_code} {data.get('error', 'error')}: {data.get('reason', '')}"
    escalation = data.get("escalation")
    if isinstance(escalation, dict):
        message += (
            f"\nA human must approve: {escalation.get('url')}\nThen run the same command "
            f"with --escalation {escalation.get('id')}"
        )
    raise ClientError(message, {"status": response.status_code, **data})


def release_token(url: str, jwt: str, token_id: str) -> None:
    """DELETE /api/tokens/<id>: revoke early."""
    try:
        response = httpx.delete(
            f"{url.rstrip('/')}/api/tokens/{token_id}",
            headers={"Authorization": f"Bearer {jwt}"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise ClientError(f"foureyes at {url} is unreachable: {exc}") from exc
    if response.status_code != 204:
        data = _json(response)
        raise ClientError(f"{response.status_code} {data.get('error')}: {data.get('reason')}")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {"error": "error", "reason": response.text[:200]}
    return data if isinstance(data, dict) else {}
