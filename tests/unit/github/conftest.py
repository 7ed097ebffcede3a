"""The real gate path against the simulator: signed webhooks into the Flask app, tasks
run inline (eager Celery), the shared state in SQLite, GitHub requests recorded.

`gate.deliver(event)` posts the simulator's last payload to the intake and returns the
GitHub requests the delivery cost. The simulated GitHub's clock ticks one second per
change, so successive changes have distinct `updated_at`s as they would in real time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from app import create_app
from app.config import Settings
from app.simulator import Installed, Simulator
from app.simulator.model import CheckRun, RecordedRequest

REPO = "acme/widgets"
AGENT = "ci-agent-1"
POLICY = """\
version: 1
agents:
  logins: ["ci-agent-*"]
  labels: ["ai-generated"]
merge:
  rules:
    - name: human review
      require: {approvals: 1, permission: write}
"""


@dataclass
class Gate:
    simulator: Simulator
    installed: Installed
    app: Flask

    def deliver(self, event: str, payload: dict[str, Any] | None = None) -> list[RecordedRequest]:
        """Deliver `payload` (default: the last webhook) and return the requests it cost."""
        body = json.dumps(payload or self.simulator.last_payload).encode()
        secret = self.installed.webhook_secret.encode()
        signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        self.simulator.clear_requests()
        response = self.app.test_client().post(
            "/api/github/webhooks",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
            },
        )
        assert response.status_code == 202, response.get_data(as_text=True)
        return self.simulator.requests

    def check_runs(self, sha: str) -> list[CheckRun]:
        world = self.simulator.world
        with world.lock:
            return [run for run in world.check_runs.values() if run.head_sha == sha]

    def head(self, number: int) -> str:
        world = self.simulator.world
        with world.lock:
            return world.repo(REPO).pulls[number].head_sha


def counted(requests: list[RecordedRequest]) -> list[str]:
    """The requests GitHub counts against the rate limit (a 304 is free), as `METHOD path`."""
    return [f"{r.method} {r.path}" for r in requests if r.status != 304]


def conditional(requests: list[RecordedRequest]) -> list[str]:
    return [f"{r.method} {r.path}" for r in requests if r.status == 304]


@pytest.fixture
def gate(tmp_path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Gate:
    ticks = iter(range(1, 1_000_000))
    start = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(simulator.world, "now", lambda: start + timedelta(seconds=next(ticks)))
    simulator.add_repo(REPO, files={"README.md": "# widgets\n", ".github/foureyes.yml": POLICY})
    installed = simulator.install(account="acme")
    for login, role in (("maintainer", "write"), ("second", "admin"), ("reader", "read")):
        simulator.add_user(login)
        simulator.set_role(REPO, login, role)
    simulator.add_user(AGENT)
    settings = Settings.from_mapping(
        {
            "APP_ID": str(installed.app_id),
            "PRIVATE_KEY": installed.private_key,
            "WEBHOOK_SECRET": installed.webhook_secret,
            "GITHUB_API_URL": simulator.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(tmp_path),
            "FOUREYES_EAGER": "1",
        }
    )
    return Gate(simulator, installed, create_app(settings))
