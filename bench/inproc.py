"""An in-process gate for benchmarks: the simulator and the Flask app with tasks run
inline (eager Celery, `app.demo.stack.eager_app`), so one process drives the real intake
and gate path."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.demo.stack import EagerGate, eager_app
from app.simulator import Simulator

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
class InProcessGate(EagerGate):
    workdir: Path
    resources: ExitStack

    def close(self) -> None:
        self.resources.close()


def start_gate(extra: dict[str, str] | None = None) -> InProcessGate:
    """A simulator with `acme/bench` (policy, reviewers) and the app wired to it; `extra`
    adds or overrides settings."""
    resources = ExitStack()
    simulator = resources.enter_context(Simulator())
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
    app = resources.enter_context(eager_app(simulator, installed, workdir, extra))
    return InProcessGate(simulator, installed, app, workdir, resources)


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
