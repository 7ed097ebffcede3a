"""Merge queues end to end: the gate's check on a merge group passes only when every pull
request the group carries passes, however the group's commits are written."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import AGENT_POLICY, Stack

pytestmark = pytest.mark.e2e

AGENT = "ci-agent-5"
POLICY = AGENT_POLICY


def queue_repo(stack: Stack) -> str:
    return stack.repo(
        "queue", files={"README.md": "# app\n", ".github/foureyes.yml": POLICY}, maintainer="write"
    )


def agent_pulls(stack: Stack, repo: str, count: int) -> list[int]:
    numbers = []
    for index in range(count):
        number = stack.simulator.open_pull_request(
            repo,
            author=AGENT,
            head_ref=f"ci-agent/change-{index}",
            files={f"src/module_{index}.py": f"VALUE = {index}\n"},
        )
        stack.wait_check(repo, stack.head(repo, number), "action_required")
        numbers.append(number)
    return numbers


def approve(stack: Stack, repo: str, number: int) -> None:
    stack.simulator.review(repo, number, "maintainer")
    stack.wait_check(repo, stack.head(repo, number), "success")


def test_a_group_holding_an_unapproved_pull_request_never_passes(stack: Stack):
    repo = queue_repo(stack)
    first, unapproved, last = agent_pulls(stack, repo, 3)
    approve(stack, repo, first)
    approve(stack, repo, last)

    # The simulator's queue commit says only "Merge queue: #1, #2, #3"; the group's pull
    # requests are found from the queue branch and the commit's parents (their heads).
    group = stack.simulator.merge_group(repo, [first, unapproved, last], sender="maintainer")
    run = stack.wait_check(repo, group, "action_required")
    assert f"#{unapproved}" in run.output["title"]
    assert f"#{first}" not in run.output["title"]
    summary = run.output["summary"]
    assert all(f"#{n}" in summary for n in (first, unapproved, last))

    # The unapproved one at the front of the queue (not named by the queue branch) too.
    group = stack.simulator.merge_group(repo, [unapproved, first], sender="maintainer")
    run = stack.wait_check(repo, group, "action_required")
    assert f"#{unapproved}" in run.output["title"]

    # Without it, the group of approved pull requests passes.
    group = stack.simulator.merge_group(repo, [first, last], sender="maintainer")
    stack.wait_check(repo, group, "success")

    # Once approved, the full group passes too.
    approve(stack, repo, unapproved)
    group = stack.simulator.merge_group(repo, [first, unapproved, last], sender="maintainer")
    stack.wait_check(repo, group, "success")
