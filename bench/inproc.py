"""An in-process gate for benchmarks: the simulator and the Flask app with tasks run
inline (eager Celery), so one process drives the real intake and gate path."""

from __future__ import annotations

import hashlib
import hmac
import json
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from app import create_app
from app.config import Settings
from app.simulator import Installed, Simulator
from app.simulator.model import RecordedRequest

REPO = "acme/bench"
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
REVIEWERS = ("maintainer", "second")


@dataclass
class InProcessGate:
    simulator: Simulator
    installed: Installed
    app: Flask
    workdir: Path

    def deliver(self, event: str, payload: dict[str, Any] | None = None) -> list[RecordedRequest]:
        """Deliver `payload` (default: the last webhook); the requests it cost GitHub."""
        body = json.dumps(payload or self.simulator.last_payload).encode()
        secret = self.installed.webhook_secret.encode()
        self.simulator.clear_requests()
        response = self.app.test_client().post(
            "/api/github/webhooks",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": "sha256="
                + hmac.new(secret, body, hashlib.sha256).hexdigest(),
            },
        )
        if response.status_code != 202:
            raise RuntimeError(f"intake answered {response.status_code}")
        return self.simulator.requests

    def close(self) -> None:
        self.app.extensions["foureyes"].engine.dispose()
        self.simulator.stop()


def start_gate(extra: dict[str, str] | None = None) -> InProcessGate:
    """A simulator with `acme/bench` (policy, reviewers) and the app wired to it."""
    simulator = Simulator()
    simulator.start()
    ticks = iter(range(1, 10_000_000))
    start = datetime.now(UTC).replace(microsecond=0)
    # One simulated second per change: successive changes differ in `updated_at`.
    simulator.world.now = lambda: start + timedelta(seconds=next(ticks))  # type: ignore[method-assign]
    simulator.add_repo(REPO, files={"README.md": "# bench\n", ".github/foureyes.yml": POLICY})
    installed = simulator.install(account="acme")
    for login in REVIEWERS:
        simulator.add_user(login)
        simulator.set_role(REPO, login, "write")
    simulator.add_user(AGENT)
    workdir = Path(tempfile.mkdtemp(prefix="foureyes-bench-"))
    settings = Settings.from_mapping(
        {
            "APP_ID": str(installed.app_id),
            "PRIVATE_KEY": installed.private_key,
            "WEBHOOK_SECRET": installed.webhook_secret,
            "GITHUB_API_URL": simulator.url,
            "DATABASE_URL": f"sqlite:///{workdir / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(workdir),
            "FOUREYES_EAGER": "1",
            **(extra or {}),
        }
    )
    return InProcessGate(simulator, installed, create_app(settings), workdir)


def large_pull_request(
    gate: InProcessGate, files: int, commits: int, reviews: int
) -> tuple[int, dict[str, Any]]:
    """An agent's pull request of `files` files over `commits` commits with `reviews`
    reviews; returns its number and its `pull_request.opened` payload."""
    per_commit = max(files // commits, 1)
    specs = []
    for index in range(commits):
        chunk = range(
            index * per_commit, files if index == commits - 1 else (index + 1) * per_commit
        )
        specs.append(
            {
                "files": {f"src/m{n:04d}.py": f"value = {n}\n" for n in chunk},
                "author": AGENT,
                "message": f"Change {index}",
            }
        )
    number = gate.simulator.open_pull_request(REPO, author=AGENT, commits=specs)
    opened = gate.simulator.last_payload or {}
    for index in range(reviews):
        gate.simulator.review(
            REPO, number, REVIEWERS[index % 2], state="COMMENTED", body=f"note {index}"
        )
    return number, opened
