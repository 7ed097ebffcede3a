"""The workflow and push guards end to end: `workflow_run`, `push` and merge webhooks into
gunicorn, a Celery worker cancelling runs, commenting and opening flag issues on the
simulator, and the audit trail that records it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from app.db import make_engine, make_session_factory
from app.identity.authorise import branch_prefix
from app.identity.models import AgentToken
from tests.e2e.conftest import AGENT_POLICY, Stack, wait_for

pytestmark = pytest.mark.e2e

AGENT = "ci-agent-3"
BOT = "foureyes[bot]"
POLICY = AGENT_POLICY
WORKFLOW = "on: pull_request\njobs:\n  leak:\n    runs-on: ubuntu-latest\n"


def guard_repo(stack: Stack, policy: str = POLICY) -> str:
    return stack.repo(
        "guard",
        files={"README.md": "# app\n", ".github/foureyes.yml": policy},
        maintainer="write",
        coder="write",
    )


def run_state(stack: Stack, run_id: int) -> tuple[str, str | None]:
    run = stack.simulator.workflow_runs()[run_id]
    return run.status, run.conclusion


def pr_comments(stack: Stack, repo: str, number: int) -> list[str]:
    with stack.world.lock:
        return [c.body for c in stack.world.repo(repo).comments if c.issue_number == number]


def flag_issues(stack: Stack, repo: str) -> list:
    with stack.world.lock:
        return [
            issue
            for issue in stack.world.repo(repo).issues.values()
            if issue.author == BOT and "flagged agent activity" in issue.title
        ]


def flags(stack: Stack, repo: str) -> list[dict]:
    return stack.audit(type="push.flagged", repository=repo)


def agent_pr_changing_ci(stack: Stack, repo: str, path: str) -> tuple[int, str]:
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref=f"ci-agent/{path.rsplit('/', 1)[-1]}", files={path: WORKFLOW}
    )
    head = stack.head(repo, number)
    stack.wait_check(repo, head, "action_required")
    return number, head


# -- workflow guard -------------------------------------------------------------------
def test_a_run_of_agent_edited_workflows_is_cancelled_until_a_human_approves(stack: Stack):
    repo = guard_repo(stack)
    number, head = agent_pr_changing_ci(stack, repo, ".github/workflows/ci.yml")
    with stack.world.lock:
        branch = stack.world.repo(repo).pulls[number].head_ref
    run_id = stack.simulator.workflow_run(
        repo, head_branch=branch, actor=AGENT, event="pull_request", pull_number=number
    )
    wait_for(lambda: run_state(stack, run_id) == ("completed", "cancelled"), 30, "the cancel")
    assert stack.simulator.workflow_runs()[run_id].cancelled_by_app == stack.installed.app_id
    comment = wait_for(lambda: pr_comments(stack, repo, number), 30, "a comment on the PR")
    assert "cancelled this workflow run" in comment[0]
    assert ".github/workflows/ci.yml" in comment[0]
    event = wait_for(
        lambda: stack.audit(type="workflow_run.cancelled", repository=repo), 30, "the audit"
    )[0]
    assert event["subject"] == f"{repo}#{number}"
    assert event["data"]["run_id"] == run_id
    assert event["data"]["head_sha"] == head
    assert event["agent"] == AGENT

    # A maintainer approves this head: a re-run is left alone, started or not.
    stack.simulator.review(repo, number, "maintainer")
    stack.wait_check(repo, head, "success")
    stack.settle()
    stack.simulator.rerun_workflow(repo, run_id, actor="maintainer")
    stack.simulator.start_workflow_run(repo, run_id)
    stack.settle()
    assert run_state(stack, run_id) == ("in_progress", None)
    assert len(stack.audit(type="workflow_run.cancelled", repository=repo)) == 1
    assert len(pr_comments(stack, repo, number)) == 1


def test_an_agent_editing_a_composite_action_is_stopped_when_its_run_starts(stack: Stack):
    repo = guard_repo(stack)
    number, _ = agent_pr_changing_ci(stack, repo, ".github/actions/setup/action.yml")
    with stack.world.lock:
        branch = stack.world.repo(repo).pulls[number].head_ref
    # A human re-runs it: the agent's code still runs with the secrets, so it is stopped.
    run_id = stack.simulator.workflow_run(
        repo,
        head_branch=branch,
        actor=AGENT,
        triggering_actor="coder",
        event="pull_request",
        pull_number=number,
    )
    stack.simulator.start_workflow_run(repo, run_id)
    wait_for(lambda: run_state(stack, run_id) == ("completed", "cancelled"), 30, "the cancel")


def test_runs_without_agent_changes_to_ci_run(stack: Stack):
    repo = guard_repo(stack)
    # A human edits a workflow; an agent edits only application code.
    human = stack.simulator.open_pull_request(
        repo, author="coder", head_ref="ci-tweak", files={".github/workflows/ci.yml": WORKFLOW}
    )
    agent = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref="ci-agent/code", files={"src/app.py": "print(1)\n"}
    )
    runs = [
        stack.simulator.workflow_run(
            repo, head_branch="ci-tweak", actor="coder", event="pull_request", pull_number=human
        ),
        stack.simulator.workflow_run(
            repo, head_branch="ci-agent/code", actor=AGENT, event="pull_request", pull_number=agent
        ),
    ]
    stack.settle()
    assert [run_state(stack, run_id) for run_id in runs] == [("queued", None)] * 2
    assert stack.audit(type="workflow_run.cancelled", repository=repo) == []


def test_the_policy_can_flag_instead_of_cancel(stack: Stack):
    repo = guard_repo(stack, POLICY + "workflows:\n  agent_changes: flag\n")
    number, _ = agent_pr_changing_ci(stack, repo, ".github/workflows/release.yml")
    with stack.world.lock:
        branch = stack.world.repo(repo).pulls[number].head_ref
    run_id = stack.simulator.workflow_run(
        repo, head_branch=branch, actor=AGENT, event="pull_request", pull_number=number
    )
    comment = wait_for(lambda: pr_comments(stack, repo, number), 30, "the flag comment")
    assert "flags this workflow run" in comment[0]
    assert run_state(stack, run_id) == ("queued", None)
    stack.settle()
    (flagged,) = stack.audit(type="workflow_run.flagged", repository=repo)
    assert flagged["data"]["run_id"] == run_id
    assert ".github/workflows/release.yml" in flagged["data"]["changed"]
    assert stack.audit(type="workflow_run.cancelled", repository=repo) == []


def test_observe_mode_lets_the_run_go_and_records_what_enforcing_would_do(stack: Stack):
    repo = guard_repo(stack, POLICY + "mode: observe\n")
    number = stack.simulator.open_pull_request(
        repo, author=AGENT, head_ref="ci-agent/observe", files={".github/workflows/x.yml": WORKFLOW}
    )
    stack.wait_check(repo, stack.head(repo, number), "neutral")
    run_id = stack.simulator.workflow_run(
        repo, head_branch="ci-agent/observe", actor=AGENT, event="pull_request", pull_number=number
    )
    (flagged,) = wait_for(
        lambda: stack.audit(type="workflow_run.flagged", repository=repo), 30, "the flag event"
    )
    assert flagged["data"]["mode"] == "observe" and flagged["data"]["would"] == "cancel"
    assert flagged["reason"].startswith("Observe mode: enforcing would have cancelled the run.")
    assert run_state(stack, run_id) == ("queued", None)
    assert stack.audit(type="workflow_run.cancelled", repository=repo) == []
    assert pr_comments(stack, repo, number) == []


# -- push guard -----------------------------------------------------------------------
def mint_record(stack: Stack, repo: str, rule: str = "ci") -> str:
    """A token the broker minted for `repo` (its record only): returns its branch prefix."""
    token_id = secrets.token_hex(8)
    now = datetime.now(UTC)
    engine = make_engine(stack.env["DATABASE_URL"])
    with make_session_factory(engine).begin() as session:
        session.add(
            AgentToken(
                id=token_id,
                installation_id=stack.installed.installation_id,
                repository=repo,
                issuer="https://token.actions.githubusercontent.com",
                subject="repo:acme/agents:ref:refs/heads/main",
                on_behalf_of="coder",
                rule=rule,
                permissions={"contents": "write"},
                token_sha256="0" * 64,
                branch_prefix=branch_prefix(rule, token_id),
                task="fix a bug",
                created_at=now,
                revoke_at=now + timedelta(minutes=15),
                github_expires_at=now + timedelta(hours=1),
            )
        )
    engine.dispose()
    return branch_prefix(rule, token_id)


def test_an_agent_token_pushing_to_the_default_branch_is_flagged_once_a_day(stack: Stack):
    repo = guard_repo(stack)
    first = stack.simulator.push_branch(repo, "main", {"a.py": "1\n"}, pusher=BOT)
    event = wait_for(lambda: flags(stack, repo), 30, "push.flagged")[0]
    assert event["subject"] == f"{repo}@{first}"
    assert "pushed to the default branch main" in event["reason"]
    issues = wait_for(lambda: flag_issues(stack, repo), 30, "the flag issue")
    assert first[:7] in issues[0].body or first in issues[0].body

    # More flags the same day: one issue, a comment each, every flag audited.
    stack.simulator.push_branch(repo, "main", {"a.py": "2\n"}, pusher=BOT)
    stack.simulator.push_branch(repo, "release", {"a.py": "3\n"}, pusher=BOT)
    wait_for(lambda: len(flags(stack, repo)) == 3, 30, "three flags")
    stack.settle()
    issues = flag_issues(stack, repo)
    assert len(issues) == 1
    assert len(pr_comments(stack, repo, issues[0].number)) == 2


def test_an_agent_token_pushing_inside_its_prefix_is_not_flagged_unless_forced(stack: Stack):
    repo = guard_repo(stack)
    prefix = mint_record(stack, repo)
    branch = f"{prefix}fix"
    stack.simulator.push_branch(repo, branch, {"a.py": "1\n"}, pusher=BOT)
    stack.simulator.push_branch(repo, branch, {"a.py": "2\n"}, pusher=BOT)
    stack.settle()
    assert flags(stack, repo) == []

    forced = stack.simulator.push_branch(repo, branch, {"a.py": "3\n"}, pusher=BOT, forced=True)
    event = wait_for(lambda: flags(stack, repo), 30, "the forced push flag")[0]
    assert event["subject"] == f"{repo}@{forced}"
    assert "force-pushed" in event["reason"]
    assert (
        event["agent"]
        == "https://token.actions.githubusercontent.com repo:acme/agents:ref:refs/heads/main"
    )
    assert event["data"]["on_behalf_of"] == "coder"


def test_pushes_outside_the_prefix_and_to_protected_branches_are_flagged(stack: Stack):
    repo = guard_repo(stack)
    stack.simulator.push_branch(repo, "feature/x", {"a.py": "1\n"}, pusher=BOT)
    stack.simulator.protect_branch(repo, "release")
    stack.simulator.push_branch(repo, "release", {"a.py": "1\n"}, pusher="coder")
    stack.simulator.push_branch(repo, "release", {"a.py": "2\n"}, pusher=AGENT)
    events = wait_for(lambda: len(flags(stack, repo)) == 2 and flags(stack, repo), 30, "2 flags")
    reasons = {event["agent"]: event["reason"] for event in events}
    assert "outside any agent token's branch prefix" in reasons[BOT]
    assert "pushed to the protected branch release" in reasons[AGENT]
    stack.settle()
    assert len(flags(stack, repo)) == 2  # the human's push to release is not flagged
    assert len(flag_issues(stack, repo)) == 2  # one per agent


def test_a_merge_by_an_agent_is_flagged_and_a_human_merge_is_not(stack: Stack):
    repo = guard_repo(stack)
    human = stack.simulator.open_pull_request(repo, author="coder", files={"h.py": "1\n"})
    stack.wait_check(repo, stack.head(repo, human), "success")
    stack.simulator.merge(repo, human, merged_by="maintainer")
    number, _ = agent_pr_changing_ci(stack, repo, "src/agent.py")
    stack.simulator.merge(repo, number, merged_by=AGENT)
    event = wait_for(
        lambda: [e for e in flags(stack, repo) if e["subject"] == f"{repo}#{number}"],
        30,
        "the merge flag",
    )[0]
    assert "merged by an agent" in event["reason"]
    assert event["data"]["gate_passed"] is False
    stack.settle()
    assert not [e for e in flags(stack, repo) if e["subject"] == f"{repo}#{human}"]
