"""Requesting an evaluation: a burst coalesces into one queued evaluation, and a request
whose pending flag was written while Redis went away still gets its evaluation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.services import Services
from app.simulator import Installed, Simulator
from app.state import SharedState, SharedStateUnavailable
from workers.gate import request_evaluation
from workers.webhooks import process_delivery

REPO = "acme/widgets"


class WritesThenFails:
    """Redis going away mid-command: the first write under `prefix` lands, its reply is lost."""

    def __init__(self, inner: SharedState, prefix: str) -> None:
        self.inner, self.prefix, self.tripped = inner, prefix, False

    def add_if_absent(self, key: str, value: str, ttl: float) -> bool:
        if key.startswith(self.prefix) and not self.tripped:
            self.tripped = True
            self.inner.add_if_absent(key, value, ttl)
            raise SharedStateUnavailable("redis unavailable: Connection closed by server.")
        return self.inner.add_if_absent(key, value, ttl)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def check_runs(simulator: Simulator, number: int) -> list[str | None]:
    with simulator.world.lock:
        head = simulator.world.repo(REPO).pulls[number].head_sha
        return [r.conclusion for r in simulator.world.check_runs.values() if r.head_sha == head]


@pytest.fixture
def opened(simulator: Simulator, installed: Installed) -> tuple[int, dict[str, Any]]:
    number = simulator.open_pull_request(REPO, author="foureyes[bot]", files={"src/a.py": "a\n"})
    assert simulator.last_payload["action"] == "opened"
    return number, simulator.last_payload


def test_a_pending_flag_written_as_redis_went_away_does_not_swallow_the_evaluation(
    simulator, opened, deps: Services, monkeypatch, task_log
):
    number, payload = opened
    monkeypatch.setattr(deps, "state", WritesThenFails(deps.state, "pending:"))
    result = process_delivery.apply(args=("pull_request", str(uuid.uuid4()), payload), throw=False)
    assert result.state == "SUCCESS"
    assert deps.state.tripped
    (retry,) = task_log("task.retry")
    assert "Connection closed" in retry["error"]
    # The rerun found its own flag (not another request's) and queued the evaluation.
    assert check_runs(simulator, number) == ["action_required"]


def test_a_request_while_another_is_pending_is_coalesced(
    simulator, installed, opened, deps: Services
):
    number, _ = opened
    assert deps.state.add_if_absent(f"pending:{REPO}#{number}", "another-task", 600)
    request_evaluation(deps, installed.installation_id, REPO, number)
    assert check_runs(simulator, number) == []
    deps.state.delete(f"pending:{REPO}#{number}")
    request_evaluation(deps, installed.installation_id, REPO, number)
    assert check_runs(simulator, number) == ["action_required"]
