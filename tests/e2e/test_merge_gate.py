"""The merge gate end to end: signed webhooks into gunicorn, a Celery worker evaluating
against the simulator over HTTP, and the check run a maintainer would see."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack, wait_for
from tests.markdown import unescaped

pytestmark = pytest.mark.e2e

POLICY = """\
version: 1
agents:
  logins: ["ci-agent-*", "copilot-swe-agent[bot]"]
  labels: ["ai-generated"]
merge:
  rules:
    - name: human review
      require: {approvals: 1, permission: write}
"""

AGENT = "copilot-swe-agent[bot]"


def shown(run) -> str:
    """The check run's title and summary as GitHub renders them."""
    return unescaped(run.output["title"] + "\n" + run.output["summary"])


def agent_repo(stack: Stack, policy: str = POLICY) -> str:
    repo = stack.repo(
        "gate",
        files={"README.md": "# app\n", ".github/foureyes.yml": policy},
        maintainer="write",
        reader="read",
        coder="write",
    )
    stack.simulator.add_user(AGENT, "Bot")
    stack.simulator.add_user("review-bot[bot]", "Bot")
    stack.simulator.set_role(repo, "review-bot[bot]", "admin")
    return repo


def test_agent_pr_blocks_until_a_maintainer_approves_the_current_head(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref="copilot/fix-1", files={"src/app.py": "print(1)\n"}
    )
    head = stack.head(repo, number)
    run = stack.wait_check(repo, head, "action_required")
    assert "human review" in shown(run)
    assert "write" in shown(run)
    assert run.details_url == f"{stack.url}/prs/{repo}/{number}"

    # Approvals that must change nothing: a bot (even an admin), a reader.
    stack.simulator.review(repo, number, "review-bot[bot]")
    stack.simulator.review(repo, number, "reader")
    stack.settle()
    run = stack.wait_check(repo, head, "action_required")
    assert "review-bot[bot]" in shown(run)
    assert "reader" in shown(run)

    stack.simulator.review(repo, number, "maintainer")
    run = stack.wait_check(repo, head, "success")
    assert "maintainer" in shown(run)

    # The agent pushes again: the approval was for the old head, so the gate blocks again.
    new_head = stack.simulator.push(repo, number, author=AGENT, files={"src/app.py": "print(2)\n"})
    stack.wait_check(repo, new_head, "action_required")
    # One check run per head commit, updated in place.
    assert len(stack.check_runs(repo, head)) == 1
    assert len(stack.check_runs(repo, new_head)) == 1

    stack.simulator.review(repo, number, "maintainer")
    stack.wait_check(repo, new_head, "success")


def test_a_committer_cannot_approve_the_agent_pr_they_worked_on(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref="copilot/fix-2", files={"a.py": "1\n"}
    )
    head = stack.simulator.push(repo, number, author="coder", files={"a.py": "2\n"})
    stack.simulator.review(repo, number, "coder")
    stack.settle()
    run = stack.wait_check(repo, head, "action_required")
    assert "coder" in shown(run)


def test_a_human_pr_passes_at_once(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(repo, author="coder", files={"b.py": "1\n"})
    stack.wait_check(repo, stack.head(repo, number), "success")


def test_an_agent_label_on_a_human_pr_gates_it(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(repo, author="coder", files={"c.py": "1\n"})
    head = stack.head(repo, number)
    stack.wait_check(repo, head, "success")
    stack.simulator.label(repo, number, "ai-generated", sender="coder")
    stack.wait_check(repo, head, "action_required")


def test_a_pr_that_edits_the_policy_is_judged_by_the_default_branch_policy(stack: Stack):
    repo = agent_repo(stack)
    lax = "version: 1\nmerge:\n  gate_humans: false\n  rules: []\n"
    number = stack.simulator.open_pull_request(
        repo,
        author=AGENT,
        head_ref="copilot/relax",
        files={".github/foureyes.yml": lax},
    )
    run = stack.wait_check(repo, stack.head(repo, number), "action_required")
    assert f"{repo}:.github/foureyes.yml@main" in shown(run)


def test_a_broken_policy_fails_closed_naming_the_error(stack: Stack):
    broken = "version: 1\nmerge:\n  rules:\n    - name: x\n      require: {aprovals: 1}\n"
    repo = agent_repo(stack, policy=broken)
    number = stack.simulator.open_pull_request(repo, author="coder", files={"d.py": "1\n"})
    run = stack.wait_check(repo, stack.head(repo, number), "failure")
    assert "aprovals" in shown(run)
    assert "line 5" in shown(run)
    # Audited once per broken version of the file, however often it is evaluated.
    stack.simulator.push(repo, number, author="coder", files={"d.py": "2\n"})
    stack.wait_check(repo, stack.head(repo, number), "failure")
    stack.settle()
    (invalid,) = stack.audit(type="policy.invalid", repository=repo)
    assert invalid["data"]["errors"][0]["line"] == 5
    assert "aprovals" in invalid["data"]["errors"][0]["path"]


def test_a_policy_change_on_the_default_branch_re_evaluates_open_prs(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(repo, author="coder", files={"e.py": "1\n"})
    head = stack.head(repo, number)
    stack.wait_check(repo, head, "success")
    strict = POLICY.replace("merge:\n", "merge:\n  gate_humans: true\n").replace(
        "    - name: human review\n", "    - name: human review\n      if: {agent: false}\n"
    )
    stack.simulator.push_default_branch(repo, {".github/foureyes.yml": strict}, pusher="maintainer")
    stack.wait_check(repo, head, "action_required")


def test_rerunning_the_check_re_evaluates(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref="copilot/rerun", files={"f.py": "1\n"}
    )
    head = stack.head(repo, number)
    run = stack.wait_check(repo, head, "action_required")
    stack.settle()
    before = len(stack.audit(type="gate.evaluated", repository=repo))
    stack.simulator.rerequest_check(repo, run.id, sender="maintainer")
    wait_for(
        lambda: len(stack.audit(type="gate.evaluated", repository=repo)) > before,
        30,
        "a new evaluation after re-run",
    )


def test_every_evaluation_is_audited_with_its_decision_tree(stack: Stack):
    repo = agent_repo(stack)
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref="copilot/audit", files={"g.py": "1\n"}
    )
    head = stack.head(repo, number)
    stack.wait_check(repo, head, "action_required")
    stack.settle()
    evaluated = stack.audit(type="gate.evaluated", repository=repo)
    assert evaluated, "no gate.evaluated event"
    latest = evaluated[-1]
    assert latest["subject"] == f"{repo}#{number}"
    assert latest["decision"] == "action_required"
    assert latest["data"]["head_sha"] == head
    assert latest["data"]["result"]["root"]["children"]
    published = stack.audit(type="check.published", repository=repo)
    assert any(event["data"]["head_sha"] == head for event in published)
