"""What an adversarial agent does with the token foureyes brokered: plain REST calls to
the simulated GitHub, written as GitHub documents them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from flask import Flask

from app.replay import delivery_headers
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


def deliver(sim: Simulator, app: Flask, event: str, payload: dict[str, Any]) -> None:
    """GitHub delivers `payload` to foureyes' real intake, signed with the app's secret
    (Celery runs eagerly in these stacks: the handlers have run when this returns)."""
    body = json.dumps(payload).encode()
    with sim.world.lock:
        [secret] = {a.webhook_secret for a in sim.world.apps.values()}
    response = app.test_client().post(
        "/api/github/webhooks",
        data=body,
        headers=delivery_headers(secret, body, event, str(uuid.uuid4())),
    )
    assert response.status_code == 202, response.get_data(as_text=True)


def app_token(app: Flask, repository: str, permissions: dict[str, str]) -> str:
    """An installation token of this app for one repository, as the broker minted them
    before `issues: write` joined the floor: what an agent may still hold."""
    deps = app.extensions["foureyes"]
    installation = deps.github.repository_installation(repository)
    return str(deps.github.mint_token(installation, repository, permissions)["token"])
