"""`foureyes audit trail`: an agent's path from token to merge, with its links."""

import hashlib

import pytest
from click.testing import CliRunner

from app.audit.emit import emit
from app.cli import cli
from app.policy.result import Approval, Conclusion, Node, Result, Status

AGENT = "repo:acme/agents:ref:refs/heads/main"
OTHER_AGENT = "repo:acme/other-agents:ref:refs/heads/main"
TOKEN_SHA = hashlib.sha256(b"ghs_not-a-real-token").hexdigest()


def evaluation(conclusion, head_sha, approvals):
    root = Node(
        name="merge policy",
        status=Status.PASS if conclusion == Conclusion.SUCCESS else Status.PENDING,
        description="every matching rule",
        children=(
            Node(
                name="human review",
                status=Status.PASS if conclusion == Conclusion.SUCCESS else Status.PENDING,
                description="1 approval with write permission",
                approvals=approvals,
            ),
        ),
    )
    return Result(
        conclusion=conclusion,
        title="human review: waiting" if conclusion != Conclusion.SUCCESS else "approved",
        root=root,
        agent_involved=True,
        head_sha=head_sha,
    ).to_dict()


def story(flask_app):
    """Token, push, pull request, two evaluations, check, merge, deployment, escalation,
    and some noise from another agent and another pull request."""
    with flask_app.app_context():
        emit(
            "token.issued",
            subject="token:tok-1",
            installation_id=1,
            repository="acme/app",
            agent=AGENT,
            decision="allow",
            data={
                "token_id": "tok-1",
                "token_sha256": TOKEN_SHA,
                "permissions": {"contents": "write", "pull_requests": "write"},
                "ttl": 900,
                "rule": "ci agents",
                "branch_prefix": "agents/tok-1/",
                "on_behalf_of": "alice",
            },
        )
        emit(
            "token.issued",
            subject="token:tok-9",
            repository="acme/app",
            agent=OTHER_AGENT,
            data={"token_id": "tok-9", "token_sha256": "f" * 64, "permissions": {}, "ttl": 60},
        )
        emit(
            "webhook.received",
            subject="acme/app@aaaaaaa1",
            repository="acme/app",
            actor="foureyes[bot]",
            data={"event": "push", "action": None, "delivery": "d-1", "sender": "foureyes[bot]"},
        )
        emit(
            "webhook.received",
            subject="acme/app#7",
            repository="acme/app",
            data={"event": "pull_request", "action": "opened", "delivery": "d-2", "sender": "x"},
        )
        first = evaluation(
            Conclusion.ACTION_REQUIRED,
            "aaaaaaa1",
            (Approval("alice", False, "the agent works on alice's behalf"),),
        )
        emit(
            "gate.evaluated",
            subject="acme/app#7",
            repository="acme/app",
            agent=AGENT,
            decision="action_required",
            data={
                "head_sha": "aaaaaaa1",
                "conclusion": "action_required",
                "result": first,
                "token_id": "tok-1",
            },
        )
        emit("gate.evaluated", subject="acme/app#8", repository="acme/app", decision="success")
        second = evaluation(
            Conclusion.SUCCESS,
            "aaaaaaa1",
            (
                Approval("bob", True, "write permission, reviewed head aaaaaaa"),
                Approval("alice", False, "the agent works on alice's behalf"),
            ),
        )
        emit(
            "gate.evaluated",
            subject="acme/app#7",
            repository="acme/app",
            agent=AGENT,
            decision="success",
            data={
                "head_sha": "aaaaaaa1",
                "conclusion": "success",
                "result": second,
                "token_id": "tok-1",
            },
        )
        emit("check.published", subject="acme/app#7", repository="acme/app", decision="success")
        emit(
            "webhook.received",
            subject="acme/app#7",
            repository="acme/app",
            data={
                "event": "pull_request",
                "action": "closed",
                "merged": True,
                "delivery": "d-3",
                "sender": "bob",
            },
        )
        emit(
            "escalation.requested",
            subject="escalation:esc-1",
            repository="acme/app",
            agent=AGENT,
            data={"permissions": {"workflows": "write"}, "token_id": "tok-1"},
        )
        emit(
            "escalation.approved",
            subject="escalation:esc-1",
            repository="acme/app",
            actor="carol",
            agent=AGENT,
            decision="approved",
        )
        emit(
            "deployment.rejected",
            subject="deployment:production@aaaaaaa1",
            repository="acme/app",
            agent=AGENT,
            decision="reject",
            reason="agents may not deploy to production",
        )


def trail(flask_app, *args):
    url = str(flask_app.extensions["foureyes"].engine.url)
    result = CliRunner().invoke(
        cli, ["audit", "trail", *args], env={"DATABASE_URL": url}, catch_exceptions=False
    )
    return result.exit_code, result.output


def block(output, seq):
    """The lines of one event's block in the trail."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"#{seq} "))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return "\n".join(lines[start:end])


def test_an_agents_trail_links_token_pull_request_and_approvals(flask_app):
    story(flask_app)
    code, output = trail(flask_app, "--agent", AGENT)
    assert code == 0, output
    seqs = [int(line.split()[0][1:]) for line in output.splitlines() if line.startswith("#")]
    # Its token, the pull request it worked on (every event about it), its escalation and
    # deployment, the push of the evaluated commit; not the other agent's token, nor the
    # other pull request.
    assert seqs == [1, 3, 4, 5, 7, 8, 9, 10, 11, 12]
    token = block(output, 1)
    assert TOKEN_SHA[:12] in token and TOKEN_SHA not in output
    assert "on behalf of alice" in token and "contents:write" in token
    first, second = block(output, 5), block(output, 7)
    assert "token tok-1 (#1)" in first
    assert "approval ignored: alice (the agent works on alice's behalf)" in first
    assert "approval counted: bob (write permission, reviewed head aaaaaaa)" in second
    assert "last evaluation #7: success, approved by bob" in block(output, 8)
    assert "last evaluation #7: success, approved by bob" in block(output, 9)
    assert "after #8 check.published" in block(output, 9)
    assert "(merged) from bob" in block(output, 9)
    assert "token tok-1 (#1)" in block(output, 10)
    assert "after #10 escalation.requested" in block(output, 11)
    assert "reason: agents may not deploy to production" in block(output, 12)
    assert (
        "approvals counted 1" in output and "approvals ignored 1" in output
    )  # alice, once: every evaluation lists her again


def test_a_pull_requests_trail_includes_its_push_and_token(flask_app):
    story(flask_app)
    code, output = trail(flask_app, "--repo", "acme/app", "--pr", "7")
    assert code == 0, output
    seqs = [int(line.split()[0][1:]) for line in output.splitlines() if line.startswith("#")]
    assert seqs == [1, 3, 4, 5, 7, 8, 9]
    assert "push from foureyes[bot]" in block(output, 3)


def test_a_repository_trail_and_since(flask_app):
    story(flask_app)
    code, output = trail(flask_app, "--repository", "acme/app")
    assert code == 0
    assert "(12 events)" in output
    code, output = trail(flask_app, "--since", "2999-01-01")
    assert code == 0
    assert "(0 events)" in output


@pytest.mark.parametrize(
    "args",
    [[], ["--pr", "7"], ["--agent", AGENT, "--repository", "acme/app"], ["--since", "soon"]],
)
def test_a_trail_needs_one_clear_filter(flask_app, args):
    code, _ = trail(flask_app, *args)
    assert code == 2


def test_an_agents_own_acts_name_the_agent_and_whom_it_works_for(flask_app):
    """`actor` of a denial or an escalation request is the agent's human: the sentence
    must say that the agent acted, for her, never that she did."""
    with flask_app.app_context():
        for kind, subject in (
            ("token.denied", "token:-"),
            ("escalation.requested", "escalation:esc-9"),
        ):
            emit(
                kind,
                subject=subject,
                installation_id=1,
                repository="acme/app",
                agent=AGENT,
                actor="alice",
                decision="denied" if kind == "token.denied" else "pending",
                reason="workflows: write needs an escalation",
            )
    code, output = trail(flask_app, "--agent", AGENT)
    assert code == 0, output
    assert f"token denied by agent {AGENT} (for alice): denied" in output
    assert f"escalation requested by agent {AGENT} (for alice): pending" in output
    assert "by alice" not in output


def test_reading_a_database_that_does_not_exist_creates_nothing(tmp_path):
    """After `foureyes demo` (which keeps its own database), `audit trail` used to fail and
    leave an empty SQLite file behind."""
    missing = tmp_path / "instance" / "foureyes.sqlite"
    result = CliRunner().invoke(
        cli, ["audit", "trail", "--repo", "acme/app"], env={"DATABASE_URL": f"sqlite:///{missing}"}
    )
    assert result.exit_code == 2
    assert f"no audit database at {missing}" in result.output
    assert not missing.exists() and not missing.parent.exists()
