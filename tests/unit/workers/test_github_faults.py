"""GitHub's faults as a gate evaluation meets them: a brief 5xx is retried in place, a
longer outage or a rate limit defers the task (never sooner than GitHub asks), a gone
repository or suspended installation is dropped, and a 4xx is never retried."""

from __future__ import annotations

import pytest

from app.simulator import Installed, Simulator
from workers.gate import evaluate_pull_request

REPO = "acme/widgets"


@pytest.fixture
def pull(simulator: Simulator, installed: Installed) -> int:
    # The app's own bot is an agent under the built-in default policy.
    return simulator.open_pull_request(REPO, author="foureyes[bot]", files={"src/a.py": "a\n"})


def evaluate(installed: Installed, number: int):
    # Eager: every retry runs inline; the logs say what was deferred and for how long.
    return evaluate_pull_request.apply(args=(installed.installation_id, REPO, number), throw=False)


def conclusion(simulator: Simulator, number: int) -> str | None:
    with simulator.world.lock:
        head = simulator.world.repo(REPO).pulls[number].head_sha
        runs = [r for r in simulator.world.check_runs.values() if r.head_sha == head]
    return max(runs, key=lambda r: r.id).conclusion if runs else None


def paths(simulator: Simulator, fragment: str) -> list[int]:
    return [r.status for r in simulator.requests if fragment in r.path]


def test_a_brief_5xx_is_retried_in_place(simulator, installed, pull, flask_app, task_log):
    simulator.fail("GET", rf"/pulls/{pull}/files$", 502, times=2)
    result = evaluate(installed, pull)
    assert result.state == "SUCCESS" and result.result == "action_required"
    assert paths(simulator, f"/pulls/{pull}/files") == [502, 502, 200]
    assert not task_log("task.retry")


def test_an_outage_defers_the_task_and_it_converges(
    simulator, installed, pull, flask_app, task_log
):
    simulator.fail("GET", rf"/pulls/{pull}/files$", 503, times=3)
    result = evaluate(installed, pull)
    assert result.state == "SUCCESS" and conclusion(simulator, pull) == "action_required"
    (retry,) = task_log("task.retry")
    assert "503" in retry["error"] and retry["retry_in"] > 0


@pytest.mark.parametrize("kind", ["primary", "secondary 403", "secondary 429"])
def test_rate_limits_defer_the_task_until_github_allows(
    simulator, installed, pull, flask_app, task_log, kind
):
    if kind == "primary":
        simulator.fail_rate_limit("GET", rf"/pulls/{pull}/reviews$", reset_in=40)
    else:
        status = int(kind.split()[-1])
        simulator.fail("GET", rf"/pulls/{pull}/reviews$", status, headers={"Retry-After": "25"})
    result = evaluate(installed, pull)
    assert result.state == "SUCCESS" and conclusion(simulator, pull) == "action_required"
    (retry,) = task_log("task.retry")
    assert "rate limit" in retry["error"]
    assert retry["retry_in"] >= (38 if kind == "primary" else 25)
    assert paths(simulator, f"/pulls/{pull}/reviews")[0] in (403, 429)  # asked once, not thrice


def test_a_4xx_is_not_retried(simulator, installed, flask_app, task_log):
    result = evaluate(installed, 999)
    assert (result.state, result.result) == ("SUCCESS", None)
    assert paths(simulator, "/pulls/999") == [404]
    assert len(task_log("task.dropped")) == 1 and not task_log("task.retry")


def test_a_deleted_repository_is_dropped(simulator, installed, pull, flask_app, task_log):
    with simulator.world.lock:
        del simulator.world.repos[REPO]
    result = evaluate(installed, pull)
    assert (result.state, result.result) == ("SUCCESS", None)
    (dropped,) = task_log("task.dropped")
    assert "404" in dropped["reason"]


def test_a_suspended_installation_is_dropped(simulator, installed, pull, flask_app, deps, task_log):
    with simulator.world.lock:
        simulator.world.installations[installed.installation_id].suspended = True
    deps.github.forget_installation_token(installed.installation_id)
    result = evaluate(installed, pull)
    assert (result.state, result.result) == ("SUCCESS", None)
    (dropped,) = task_log("task.dropped")
    assert "suspended" in dropped["reason"]
    assert conclusion(simulator, pull) is None


def test_an_outage_of_the_open_pull_request_list_fails_the_check_closed(
    simulator, installed, pull, flask_app, task_log
):
    """Other pull requests at the head may be blocking: after the last retry, the check
    fails with the reason instead of passing on what could be read."""
    simulator.fail("GET", rf"/repos/{REPO}/pulls$", 503, times=10_000)
    evaluate_pull_request.apply(
        args=(installed.installation_id, REPO, pull), throw=False, retries=12
    )
    assert conclusion(simulator, pull) == "failure"  # not the pull request's own verdict
    with simulator.world.lock:
        [run] = [r for r in simulator.world.check_runs.values() if r.conclusion == "failure"]
    assert "could not be listed" in run.output["summary"]
