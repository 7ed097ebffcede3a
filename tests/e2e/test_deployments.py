"""The deployment gate end to end: `deployment_protection_rule` webhooks into gunicorn, a
Celery worker answering through the run's protection rule on the simulator, and approval
issues decided by `/foureyes approve <digest>|deny` comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from sqlalchemy import update

from app.db import make_engine, make_session_factory
from app.deploy.models import DeploymentReview
from app.identity.binding import shown_digest
from tests.e2e.conftest import AGENT_POLICY, Stack, wait_for

pytestmark = pytest.mark.e2e

AGENT = "ci-agent-7"
BOT = "foureyes[bot]"
POLICY = (
    AGENT_POLICY
    + """\
deployments:
  production: {agents: reject}
  "*": {agents: require_approval}
escalations:
  approvers: {permission: admin}
"""
)


def deploy_repo(stack: Stack) -> str:
    return stack.repo(
        "deploy",
        files={"README.md": "# app\n", ".github/foureyes.yml": POLICY},
        maintainer="admin",
        lead="admin",
        deployer="write",
        coder="write",
    )


def decided(stack: Stack, run_id: int) -> list:
    """The decisions (not status reports) foureyes sent for the run."""
    return [r for r in stack.simulator.deployment_reviews(run_id) if r.state is not None]


def wait_decision(stack: Stack, run_id: int, what: str) -> object:
    return wait_for(lambda: decided(stack, run_id), 30, what)[0]


def wait_held(stack: Stack, repo: str, run_id: int) -> tuple[object, int]:
    """The status report of a held deployment and the number of its approval issue."""
    report = wait_for(
        lambda: [r for r in stack.simulator.deployment_reviews(run_id) if r.state is None],
        30,
        "a status report on the held deployment",
    )[0]
    with stack.world.lock:
        issues = [
            issue
            for issue in stack.world.repo(repo).issues.values()
            if issue.author == BOT and "approve deploying" in issue.title
        ]
    assert len(issues) == 1
    return report, issues[0].number


def unreviewed_agent_change(stack: Stack, repo: str, branch: str) -> tuple[int, str]:
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref=branch, files={"src/app.py": "print('agent')\n"}
    )
    head = stack.head(repo, number)
    stack.wait_check(repo, head, "action_required")
    return number, head


def issue_state(stack: Stack, repo: str, number: int) -> str:
    with stack.world.lock:
        return stack.world.repo(repo).issues[number].state


def issue_comments(stack: Stack, repo: str, number: int) -> list[str]:
    with stack.world.lock:
        return [c.body for c in stack.world.repo(repo).comments if c.issue_number == number]


def test_a_deployment_created_by_an_agent_token_is_rejected_with_the_reason(stack: Stack):
    repo = deploy_repo(stack)
    deployment_id, run_id = stack.simulator.request_deployment(
        repo, environment="production", creator=BOT, ref="main"
    )
    payload = stack.simulator.last_payload
    review = wait_decision(stack, run_id, "a decision on the agent's deployment")
    assert review.state == "rejected"
    assert "rejects agent deployments to production" in review.comment
    assert BOT in review.comment
    assert stack.simulator.deployment_gate(run_id, "production") == "rejected"

    # GitHub redelivers: the request is answered once.
    stack.simulator.deliver("deployment_protection_rule", payload)
    stack.settle()
    assert len(decided(stack, run_id)) == 1
    sha = stack.world.repo(repo).branches["main"]
    events = stack.audit(type="deployment.rejected", repository=repo)
    assert [e["subject"] for e in events] == [f"deployment:production@{sha}"]
    assert events[0]["data"]["deployment_id"] == deployment_id


def test_a_human_deploying_reviewed_code_passes_at_once(stack: Stack):
    repo = deploy_repo(stack)
    number, head = unreviewed_agent_change(stack, repo, "ci-agent/feature")
    stack.simulator.review(repo, number, "maintainer")
    stack.wait_check(repo, head, "success")
    stack.settle()
    merge_sha = stack.simulator.merge(repo, number, merged_by="maintainer")
    stack.settle()

    _, run_id = stack.simulator.request_deployment(
        repo, environment="production", creator="deployer", ref="main", sha=merge_sha
    )
    review = wait_decision(stack, run_id, "a decision on the human's deployment")
    assert review.state == "approved"
    assert "No agent involvement" in review.comment
    approved = stack.audit(type="deployment.approved", repository=repo)
    assert approved[-1]["subject"] == f"deployment:production@{merge_sha}"
    assert approved[-1]["actor"] == "deployer"


def test_a_human_deploying_an_unreviewed_agent_commit_is_held_until_approved(stack: Stack):
    repo = deploy_repo(stack)
    _, head = unreviewed_agent_change(stack, repo, "ci-agent/held")
    _, run_id = stack.simulator.request_deployment(
        repo, environment="staging", creator="deployer", ref="ci-agent/held", sha=head
    )
    report, issue = wait_held(stack, repo, run_id)
    with stack.simulator.world.lock:
        digest = shown_digest(stack.simulator.world.repo(repo).issues[issue].body)
    assert digest and f"/foureyes approve {digest}" in report.comment
    assert f"issue #{issue}" in report.comment
    assert stack.simulator.deployment_gate(run_id, "staging") == "waiting"
    assert decided(stack, run_id) == []

    stack.simulator.comment(repo, issue, "maintainer", f"/foureyes approve {digest}")
    review = wait_decision(stack, run_id, "the approval to reach GitHub")
    assert review.state == "approved"
    assert "maintainer" in review.comment
    assert stack.simulator.deployment_gate(run_id, "staging") == "approved"
    wait_for(lambda: issue_state(stack, repo, issue) == "closed", 30, "the issue to close")
    event = wait_for(
        lambda: stack.audit(type="deployment.approved", repository=repo), 30, "the audit"
    )[-1]
    assert event["actor"] == "maintainer"
    assert event["agent"] == AGENT
    assert event["subject"] == f"deployment:staging@{head}"


def test_an_ineligible_approval_is_ignored_and_a_denial_rejects(stack: Stack):
    repo = deploy_repo(stack)
    _, head = unreviewed_agent_change(stack, repo, "ci-agent/denied")
    stack.simulator.set_role(repo, "deployer", "admin")
    stack.simulator.set_role(repo, AGENT, "admin")
    _, run_id = stack.simulator.request_deployment(
        repo, environment="staging", creator="deployer", ref="ci-agent/denied", sha=head
    )
    _, issue = wait_held(stack, repo, run_id)

    stack.simulator.comment(repo, issue, "coder", "/foureyes approve")  # write, not admin
    stack.simulator.comment(repo, issue, "deployer", "/foureyes approve")  # its own deployment
    stack.simulator.comment(repo, issue, AGENT, "/foureyes approve")  # an agent
    stack.settle()
    assert decided(stack, run_id) == []
    assert stack.simulator.deployment_gate(run_id, "staging") == "waiting"
    said = "\n".join(issue_comments(stack, repo, issue))
    assert "admin permission" in said
    assert "whoever created the deployment cannot approve it" in said
    assert "an agent cannot approve a deployment" in said

    stack.simulator.comment(repo, issue, "lead", "/foureyes deny")
    review = wait_decision(stack, run_id, "the denial to reach GitHub")
    assert review.state == "rejected"
    assert "rejected by lead" in review.comment
    assert stack.audit(type="deployment.approved", repository=repo) == []


def test_an_unanswered_request_is_rejected_when_it_expires(stack: Stack):
    repo = deploy_repo(stack)
    _, head = unreviewed_agent_change(stack, repo, "ci-agent/expiring")
    _, run_id = stack.simulator.request_deployment(
        repo, environment="staging", creator="deployer", ref="ci-agent/expiring", sha=head
    )
    _, issue = wait_held(stack, repo, run_id)

    # A day passes: move the request's deadline into the past, then let the sweep run.
    engine = make_engine(stack.env["DATABASE_URL"])
    with make_session_factory(engine).begin() as session:
        session.execute(
            update(DeploymentReview)
            .where(DeploymentReview.repository == repo, DeploymentReview.run_id == run_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    engine.dispose()
    broker = Celery(broker=stack.env["REDIS_URL"])
    broker.send_task("workers.deployments.expire_deployment_reviews")

    review = wait_decision(stack, run_id, "the expiry to reject the deployment")
    assert review.state == "rejected"
    assert "expired" in review.comment
    wait_for(lambda: issue_state(stack, repo, issue) == "closed", 30, "the issue to close")
    event = wait_for(
        lambda: stack.audit(type="deployment.rejected", repository=repo), 30, "the audit"
    )[-1]
    assert event["data"]["outcome"] == "expired"

    # Too late: an approval after expiry changes nothing.
    stack.simulator.comment(repo, issue, "maintainer", "/foureyes approve")
    stack.settle()
    assert len(decided(stack, run_id)) == 1
