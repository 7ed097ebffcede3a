"""GitHub's faults as a gate evaluation meets them: a brief 5xx is retried in place, a
longer outage or a rate limit defers the task (never sooner than GitHub asks), a gone
repository or suspended installation is dropped, and a 4xx is never retried. A merge
group or a deployment that GitHub keeps failing is answered (failure, rejection) on the
task's last attempt."""

from __future__ import annotations

import pytest

from app.deploy.review import request_from_payload
from app.simulator import Installed, Simulator
from workers.deployments import review_deployment_task
from workers.gate import evaluate_merge_group, evaluate_pull_request

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


@pytest.fixture
def every_retry_inline(flask_app, monkeypatch):
    """Eager Celery runs each retry inline, and would raise the second one out of the
    first (`task_eager_propagates`): let the chain of retries run to its last attempt."""
    monkeypatch.setitem(evaluate_merge_group.app.conf, "task_eager_propagates", False)


def test_a_merge_group_under_a_lasting_outage_fails_after_its_retries(
    simulator, installed, pull, every_retry_inline, task_log
):
    head = simulator.merge_group(REPO, [pull], sender="octo-admin")
    group = {
        k: simulator.last_payload["merge_group"][k] for k in ("head_sha", "head_ref", "base_sha")
    }
    simulator.fail("GET", r"/compare/", 502, times=1000)
    result = evaluate_merge_group.apply(args=(installed.installation_id, REPO, group), throw=False)
    assert result.state == "SUCCESS" and result.result == "failure"
    assert len(task_log("task.retry")) == evaluate_merge_group.max_retries
    with simulator.world.lock:
        [run] = [r for r in simulator.world.check_runs.values() if r.head_sha == head]
    assert run.conclusion == "failure"
    assert "GitHub answered 502" in run.output["summary"]


def test_a_deployment_under_a_lasting_outage_is_rejected_after_its_retries(
    simulator, installed, every_retry_inline, task_log
):
    _, run_id = simulator.request_deployment(REPO, environment="staging", creator="octo-admin")
    request = request_from_payload(simulator.last_payload)
    simulator.fail("GET", r"/compare/", 502, times=1000)
    result = review_deployment_task.apply(args=(request.as_dict(),), throw=False)
    assert result.state == "SUCCESS" and result.result == "rejected"
    assert len(task_log("task.retry")) == review_deployment_task.max_retries
    [review] = simulator.deployment_reviews(run_id)
    assert review.state == "rejected"
    assert "GitHub answered 502" in review.comment and "after the retries" in review.comment


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
