"""The real gate path against the simulator: signed webhooks into the Flask app, tasks
run inline (eager Celery), the shared state in SQLite, GitHub requests recorded.

`gate.deliver(event)` posts the simulator's last payload to the intake and returns the
GitHub requests the delivery cost. The simulated GitHub's clock ticks one second per
change, so successive changes have distinct `updated_at`s as they would in real time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.demo.stack import EagerGate, eager_app
from app.simulator import Simulator
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


class Gate(EagerGate):
    """The gate on `acme/widgets` (policy, humans, an agent), tasks inline."""

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
def gate(tmp_path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    ticks = iter(range(1, 1_000_000))
    start = datetime.now(UTC).replace(microsecond=0)
    monkeypatch.setattr(simulator.world, "now", lambda: start + timedelta(seconds=next(ticks)))
    simulator.add_repo(REPO, files={"README.md": "# widgets\n", ".github/foureyes.yml": POLICY})
    installed = simulator.install(account="acme")
    for login, role in (("maintainer", "write"), ("second", "admin"), ("reader", "read")):
        simulator.add_user(login)
        simulator.set_role(REPO, login, role)
    simulator.add_user(AGENT)
    with eager_app(simulator, installed, tmp_path) as flask_app:
        yield Gate(simulator, installed, flask_app)
