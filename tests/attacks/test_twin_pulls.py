"""Attack 1: twin pull requests share one check (DESIGN invariant 9).

A check run belongs to a commit. The agent's pull request #1 at head H is blocked; a
second pull request from the same branch into a scratch base that no rule covers is
judged "no rule applies": the shared check on H turned `success` and #1 could merge.
The check on H is now the conjunction of every open pull request at H.
"""

from __future__ import annotations

import pytest
from celery.exceptions import Retry

from tests.attacks.helpers import app_bot
from tests.unit.github.conftest import REPO, Gate
from workers.gate import evaluate_pull_request

# Rules scoped to the default branch: a pull request into any other base needs nothing.
POLICY = """\
version: 1
merge:
  rules:
    - name: human review
      if: {agent: true, base: [main]}
      require: {approvals: 1, permission: write}
"""


def scoped(gate: Gate) -> str:
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": POLICY}, pusher="second")
    gate.simulator.add_user("mallory")
    gate.simulator.push_branch(REPO, "scratch", {"notes.md": "x\n"}, pusher="mallory")
    return app_bot(gate)


def test_a_twin_pull_request_into_an_uncovered_base_does_not_pass_the_shared_check(gate: Gate):
    bot = scoped(gate)
    agents = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/fix", files={"src/pay.py": "steal()\n"}
    )
    gate.deliver("pull_request")
    head = gate.head(agents)
    [run] = gate.check_runs(head)
    assert run.conclusion == "action_required"

    twin = gate.simulator.open_pull_request_from(
        REPO, author="mallory", head_ref="agents/fix", base="scratch"
    )
    assert gate.head(twin) == head
    gate.deliver("pull_request")

    [run] = gate.check_runs(head)
    assert run.conclusion == "action_required"
    assert run.output["title"].startswith(f"Blocked by #{agents}")
    assert f"#{agents}" in run.output["summary"] and f"#{twin}" in run.output["summary"]


def twins(gate: Gate) -> tuple[int, int, str]:
    bot = scoped(gate)
    agents = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/fix", files={"src/pay.py": "fix()\n"}
    )
    gate.deliver("pull_request")
    twin = gate.simulator.open_pull_request_from(
        REPO, author="mallory", head_ref="agents/fix", base="scratch"
    )
    gate.deliver("pull_request")
    return agents, twin, gate.head(agents)


def test_closing_the_blocked_pull_request_rejudges_the_twin_alone(gate: Gate):
    agents, _twin, head = twins(gate)
    [run] = gate.check_runs(head)
    assert run.conclusion == "action_required"
    gate.simulator.close(REPO, agents, sender="maintainer")
    gate.deliver("pull_request")
    [run] = gate.check_runs(head)
    # Only the twin is left: no rule covers it, but an agent's commit into scratch shows
    # no `success` (a pull request from it into main would be born green).
    assert run.conclusion == "action_required"
    assert run.output["title"].startswith("Blocked: passes into scratch only")


def test_a_human_approval_of_the_blocked_pull_request_passes_the_shared_check(gate: Gate):
    agents, twin, head = twins(gate)
    gate.simulator.review(REPO, agents, "maintainer")
    gate.deliver("pull_request_review")
    [run] = gate.check_runs(head)
    assert run.conclusion == "success"
    assert run.output["title"] == f"Every context of this commit passes (#{agents}, #{twin})"


def test_an_evaluation_waits_while_another_publishes_for_the_same_head(gate: Gate):
    """Two workers judging two pull requests at one head never publish at once: each
    reads every context and publishes under the commit's lock, so the last word was
    read after the one before it."""
    agents, twin, head = twins(gate)
    deps = gate.app.extensions["foureyes"]
    gate.simulator.review(REPO, agents, "maintainer")
    before = [(run.id, run.conclusion) for run in gate.check_runs(head)]
    with gate.app.app_context():
        assert deps.state.add_if_absent(f"lock:commit:{REPO}@{head}", "another-worker", 60)
        with pytest.raises(Retry):
            evaluate_pull_request(gate.installed.installation_id, REPO, twin)
    assert [(run.id, run.conclusion) for run in gate.check_runs(head)] == before


def test_a_review_on_the_twin_still_judges_the_blocked_pull_request(gate: Gate):
    _agents, twin, head = twins(gate)
    gate.simulator.review(REPO, twin, "maintainer")
    gate.deliver("pull_request_review")
    [run] = gate.check_runs(head)
    assert run.conclusion == "action_required"


def test_a_pull_request_from_a_merge_group_head_does_not_pass_the_group(gate: Gate):
    """The merge group's head commit is a context too: a pull request from a branch at
    that commit (the queue's own `gh-readonly-queue/…` branch, or a copy of it) into a
    base no rule covers must not turn the group's check green."""
    bot = scoped(gate)
    agents = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/fix", files={"src/pay.py": "steal()\n"}
    )
    gate.deliver("pull_request")
    group_head = gate.simulator.merge_group(REPO, [agents], sender="second")
    gate.deliver("merge_group")
    [run] = gate.check_runs(group_head)
    assert run.conclusion != "success"

    queue_branch = gate.simulator.last_payload["merge_group"]["head_ref"].removeprefix(
        "refs/heads/"
    )
    twin = gate.simulator.open_pull_request_from(
        REPO, author="mallory", head_ref=queue_branch, base="scratch"
    )
    assert gate.head(twin) == group_head
    gate.deliver("pull_request")
    [run] = gate.check_runs(group_head)
    assert run.conclusion != "success"
    assert "merge group" in run.output["summary"]


def test_too_many_copies_at_one_head_fail_closed(gate: Gate, monkeypatch: pytest.MonkeyPatch):
    """Every context is judged at each evaluation: copies opened to exhaust the rate limit
    make the check fail instead (the cap is lowered here from 20 to keep the test small)."""
    monkeypatch.setattr("app.contexts.MAX_PULLS_AT_HEAD", 2)
    agents, _twin, head = twins(gate)
    gate.simulator.push_branch(REPO, "scratch-2", {"notes.md": "y\n"}, pusher="mallory")
    gate.simulator.open_pull_request_from(
        REPO, author="mallory", head_ref="agents/fix", base="scratch-2"
    )
    gate.deliver("pull_request")
    [run] = gate.check_runs(head)
    assert run.conclusion == "failure"
    assert "3 open pull requests share head" in run.output["summary"]
    gate.simulator.review(REPO, agents, "maintainer")
    gate.deliver("pull_request_review")
    assert gate.check_runs(head)[0].conclusion == "failure"
