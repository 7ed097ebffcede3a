"""What an adversarial agent does with the token foureyes brokered: plain REST calls to
the simulated GitHub, written as GitHub documents them."""

from __future__ import annotations

from typing import Any

import httpx

from app.simulator import Simulator

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def call(
    sim: Simulator, token: str, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    """One REST call as the agent (`Authorization: Bearer <installation token>`)."""
    headers = {**API_HEADERS, "Authorization": f"Bearer {token}"}
    return httpx.request(method, sim.url + path, json=body, headers=headers, timeout=10)


def write_policy(sim: Simulator, repository: str, policy: str) -> None:
    """A maintainer commits `policy` to the default branch (no webhook URL: none sent)."""
    sim.push_default_branch(repository, {".github/foureyes.yml": policy}, pusher="octo-admin")
