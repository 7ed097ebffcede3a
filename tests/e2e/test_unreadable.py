"""Every path ends in an answer: a merge group or a deployment whose commits GitHub cannot
compare, or that names a pull request GitHub does not know, is answered at once (failure,
rejection) with the reason, instead of leaving the queue or the deployment waiting."""

from __future__ import annotations

import json

import pytest

from app.simulator import payloads
from tests.e2e.conftest import AGENT_POLICY, Stack, wait_for

pytestmark = pytest.mark.e2e

AGENT = "ci-agent-9"
POLICY = AGENT_POLICY + 'deployments:\n  "*": {agents: require_approval}\n'


def project(stack: Stack) -> str:
    return stack.repo(
        "unreadable",
        files={"README.md": "# app\n", ".github/foureyes.yml": POLICY},
        maintainer="write",
        deployer="write",
    )


def unrelated_history(stack: Stack, repo: str, branch: str) -> str:
    """A commit with no parent on `branch` (`git checkout --orphan`, then a push)."""
    with stack.world.lock:
        orphan = stack.world.add_commit(
            None, {"README.md": "# another project\n"}, author="maintainer", message="Start over"
        )
        stack.world.repo(repo).branches[branch] = orphan.sha
    return orphan.sha


def gate_events(stack: Stack, repo: str, head: str) -> list[dict]:
    return [
        e
        for e in stack.audit(type="gate.evaluated", repository=repo)
        if e["subject"] == f"{repo}@{head}"
    ]


def test_a_merge_group_naming_an_unknown_pull_request_fails_naming_it(stack: Stack):
    repo = project(stack)
    number = stack.simulator.open_pull_request(
        repo,
        author=AGENT,
        head_ref="ci-agent/squashed",
        # A squash commit carried over from another repository names its pull request.
        commits=[{"files": {"src/app.py": "A = 1\n"}, "message": "Port the fix (#987)"}],
    )
    stack.wait_check(repo, stack.head(repo, number), "action_required")
    stack.simulator.review(repo, number, "maintainer")
    stack.wait_check(repo, stack.head(repo, number), "success")

    head = stack.simulator.merge_group(repo, [number], sender="maintainer")
    run = stack.wait_check(repo, head, "failure")
    assert run.output["title"] == "Blocked: #987 failing"
    summary = run.output["summary"].replace("\\", "")  # the summary escapes markdown
    assert "pull request #987, which the merge group names, could not be read" in summary
    assert f"#{number}" not in run.output["title"]
    [event] = wait_for(lambda: gate_events(stack, repo, head), 10, "the group's audit event")
    assert event["decision"] == "failure"
    # The decision tree (details page, audit) carries GitHub's answer.
    tree = json.dumps(event["data"]["result"])
    assert f"GitHub answered 404 for /repos/{repo}/pulls/987: Not Found" in tree


def test_a_merge_group_github_cannot_compare_fails_with_githubs_answer(stack: Stack):
    repo = project(stack)
    orphan = unrelated_history(stack, repo, "rewritten")
    with stack.world.lock:
        record = stack.world.repo(repo)
        head = stack.world.add_commit(
            record.branches["main"], {"src/app.py": "A = 2\n"}, author="maintainer"
        )
        head_ref = f"gh-readonly-queue/main/pr-1-{orphan}"
        record.branches[head_ref] = head.sha
        installation = stack.world.installations[stack.installed.installation_id]
    payload = payloads.merge_group_event(
        stack.world, installation, record, head, head_ref, "main", "maintainer"
    )
    # The base branch was rewritten with an unrelated history while the group was queued.
    payload["merge_group"]["base_sha"] = orphan
    assert stack.simulator.deliver("merge_group", payload).status_code == 202

    run = stack.wait_check(repo, head.sha, "failure")
    assert run.output["title"] == "Blocked: the evaluation failed"
    summary = run.output["summary"].replace("\\", "")
    assert "could not compare the merge group's base and head" in summary
    assert f"{orphan}...{head.sha}" in summary
    [event] = wait_for(lambda: gate_events(stack, repo, head.sha), 10, "the audit event")
    assert event["decision"] == "failure"


def test_a_deployment_github_cannot_compare_is_rejected_with_the_reason(stack: Stack):
    repo = project(stack)
    orphan = unrelated_history(stack, repo, "rewritten")
    _, run_id = stack.simulator.request_deployment(
        repo, environment="staging", creator="deployer", ref="rewritten"
    )

    def decided() -> list:
        return [r for r in stack.simulator.deployment_reviews(run_id) if r.state is not None]

    [review] = wait_for(decided, 30, "a decision on the deployment")
    assert review.state == "rejected"
    assert "could not be read from GitHub" in review.comment
    assert f"No common ancestor between main and {orphan}" in review.comment
    assert stack.simulator.deployment_gate(run_id, "staging") == "rejected"
    events = wait_for(
        lambda: stack.audit(type="deployment.rejected", repository=repo), 10, "the audit event"
    )
    assert [e["subject"] for e in events] == [f"deployment:staging@{orphan}"]
    assert "No common ancestor" in events[0]["reason"]


def test_a_workflow_run_whose_changes_github_cannot_compare_is_cancelled(stack: Stack):
    repo = project(stack)
    orphan = unrelated_history(stack, repo, "rewritten")
    run_id = stack.simulator.workflow_run(repo, head_branch="rewritten", actor="maintainer")

    def state() -> tuple[str, str | None]:
        run = stack.simulator.workflow_runs()[run_id]
        return run.status, run.conclusion

    wait_for(lambda: state() == ("completed", "cancelled"), 30, "the run to be cancelled")
    [event] = wait_for(
        lambda: stack.audit(type="workflow_run.cancelled", repository=repo), 10, "the audit"
    )
    assert event["subject"] == f"{repo}@{orphan}"
    assert "the changed files could not be listed completely" in event["reason"]
    assert "an agent's cannot be ruled out" in event["reason"]
