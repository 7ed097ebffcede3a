"""Who pushed, read back from GitHub's activity at evaluation time (`app.who_acted`), on
the real gate path (`Gate`): when it is read, and what a missing activity API means."""

from __future__ import annotations

from tests.unit.github.conftest import REPO, Gate, counted

ACTIVITY = f"GET /repos/{REPO}/activity"


def test_the_activity_is_read_once_for_commits_nobody_is_on_record_as_pushing(gate: Gate):
    gate.simulator.add_user("hugo")
    gate.simulator.set_role(REPO, "hugo", "write")
    number = gate.simulator.open_pull_request(REPO, author="hugo", files={"a.py": "1\n"})
    first = gate.deliver("pull_request")  # `opened` says who opened it, not who pushed
    assert counted(first).count(ACTIVITY) == 1
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == "success"  # hugo pushed his own branch
    gate.simulator.review(REPO, number, "maintainer", state="COMMENTED")
    assert ACTIVITY not in counted(gate.deliver("pull_request_review"))  # remembered


def test_without_an_activity_api_the_pusher_is_unknown_and_the_evaluation_still_ends(
    gate: Gate,
):
    gate.simulator.fail("GET", r"/activity$", 404)
    gate.simulator.add_user("hugo")
    number = gate.simulator.open_pull_request(REPO, author="hugo", files={"a.py": "1\n"})
    gate.deliver("pull_request")
    [run] = gate.check_runs(gate.head(number))
    # Unknown, and no brokered token could have pushed: a human's pull request.
    assert run.conclusion == "success"
