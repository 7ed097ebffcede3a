"""Attack 5: the agent edits the issue a human approves. Every brokered token acts on
GitHub as this app, so an agent with `issues: write` can rewrite the escalation (or
deployment-approval) issue foureyes opened to ask for `contents: read`; a maintainer
approves; the agent redeems `workflows: write`. Controls: `issues: write` is on the
floor; an approval names the digest of the request foureyes stores; an edited issue
voids its request (on `issues.edited`, and again by comparing the issue with what
foureyes wrote when a human decides)."""

from __future__ import annotations

from app.identity.binding import approve_command, shown_digest
from app.identity.models import Escalation
from tests.attacks.agent import app_token, call, deliver

REPO = "acme/agents"
WIDE = {
    "repository": REPO,
    "permissions": {"contents": "write", "workflows": "write"},
    "ttl": 600,
    "task": "bump the CI matrix",
}


def escalate(broker) -> tuple[str, int, str]:
    """The agent asks beyond its rule: (escalation id, issue number, digest shown)."""
    broker.sim.set_role(REPO, "bob", "admin")
    asked = broker.ask(WIDE)
    assert asked.json["error"] == "escalation_required", asked.json
    [row] = broker.rows(Escalation)
    body = broker.sim.world.repo(REPO).issues[row.issue_number].body
    digest = shown_digest(body)
    assert digest, body
    return asked.json["escalation"]["id"], row.issue_number, digest


def rewrite(broker, number: int, digest: str) -> None:
    """The agent rewrites the issue to ask for little, keeping the digest line."""
    token = app_token(broker.app, REPO, {"issues": "write"})
    edited = call(
        broker.sim,
        token,
        "PATCH",
        f"/repos/{REPO}/issues/{number}",
        {
            "title": f"foureyes: an agent asks for contents: read on {REPO}",
            "body": f"Permissions asked: `contents: read`\n\nRequest digest: `{digest}`",
        },
    )
    assert edited.status_code == 200, edited.text


def human_says(broker, number: int, login: str, text: str) -> None:
    broker.sim.comment(REPO, number, login, text)
    deliver(broker.sim, broker.app, "issue_comment", broker.sim.last_payload)


def replies(broker, number: int) -> list[str]:
    repo = broker.sim.world.repo(REPO)
    return [c.body for c in repo.comments if c.issue_number == number and c.user.endswith("[bot]")]


def redeem(broker, escalation_id: str):
    return broker.ask({**WIDE, "escalation": escalation_id})


def workflow_tokens(broker) -> list:
    return [t for t in broker.agent_tokens() if "workflows" in t.permissions]


def test_the_broker_never_grants_issues_write(broker):
    asked = broker.ask({"repository": REPO, "permissions": {"issues": "write"}})
    assert asked.status_code == 403
    assert asked.json == {"error": "denied", "reason": "issues: write is never granted to agents"}
    assert broker.agent_tokens() == []


def test_an_edit_of_the_escalation_issue_voids_the_request(broker):
    escalation_id, number, digest = escalate(broker)
    rewrite(broker, number, digest)
    # GitHub sends `issues.edited`, its sender the app's bot (the agent's token).
    assert broker.sim.last_payload["action"] == "edited"
    assert broker.sim.last_payload["sender"]["login"] == "foureyes[bot]"
    deliver(broker.sim, broker.app, "issues", broker.sim.last_payload)

    [row] = broker.rows(Escalation)
    assert row.status == "denied" and row.decided_by is None
    [denied] = broker.events("escalation.denied")
    assert "edited after foureyes opened it" in denied.reason
    assert "foureyes[bot]" in denied.reason
    assert "edited after foureyes opened it" in replies(broker, number)[-1]
    assert broker.sim.world.repo(REPO).issues[number].state == "closed"

    human_says(broker, number, "bob", approve_command(digest))
    assert broker.rows(Escalation)[0].status == "denied"
    assert redeem(broker, escalation_id).status_code == 403
    assert workflow_tokens(broker) == []


def test_an_edit_foureyes_did_not_hear_of_is_caught_when_the_human_decides(broker):
    """The `issues.edited` delivery is lost (foureyes was down, or not subscribed): the
    issue is read again from GitHub when the human approves, and compared."""
    escalation_id, number, digest = escalate(broker)
    rewrite(broker, number, digest)  # the edit webhook is never delivered

    human_says(broker, number, "bob", approve_command(digest))
    [row] = broker.rows(Escalation)
    assert row.status == "denied"
    assert "edited after foureyes opened it" in replies(broker, number)[-1]
    [denied] = broker.events("escalation.denied")
    assert "edited after foureyes opened it" in denied.reason
    assert broker.events("escalation.approved") == []
    assert redeem(broker, escalation_id).status_code == 403
    assert workflow_tokens(broker) == []


def test_an_approval_that_names_a_digest_must_name_the_stored_requests(broker):
    escalation_id, number, digest = escalate(broker)

    human_says(broker, number, "bob", approve_command("0" * len(digest)))
    assert broker.rows(Escalation)[0].status == "pending"
    assert "is not the digest of this request" in replies(broker, number)[-1]
    assert redeem(broker, escalation_id).status_code == 403

    human_says(broker, number, "bob", approve_command(digest.upper()))
    assert broker.rows(Escalation)[0].status == "approved"
    assert redeem(broker, escalation_id).status_code == 201


def test_an_edit_of_a_deployment_approval_issue_rejects_the_deployment(broker):
    sim = broker.sim
    sim.set_role(REPO, "bob", "admin")
    number = sim.open_pull_request(
        REPO, author="foureyes[bot]", head_ref="agents/x/fix", files={"app.py": "evil\n"}
    )
    head = sim.world.repo(REPO).pulls[number].head_sha
    _deployment, run_id = sim.request_deployment(
        REPO, environment="staging", creator="alice", ref="agents/x/fix", sha=head
    )
    deliver(sim, broker.app, "deployment_protection_rule", sim.last_payload)
    [issue] = [i for i in sim.world.repo(REPO).issues.values() if "deploying" in i.title]
    digest = shown_digest(issue.body)
    assert digest and sim.deployment_gate(run_id, "staging") == "waiting"

    rewrite(broker, issue.number, digest)
    deliver(sim, broker.app, "issues", sim.last_payload)
    assert sim.deployment_gate(run_id, "staging") == "rejected"
    [rejected] = broker.events("deployment.rejected")
    assert "edited after foureyes opened it" in rejected.reason

    human_says(broker, issue.number, "bob", approve_command(digest))
    assert sim.deployment_gate(run_id, "staging") == "rejected"
    assert broker.events("deployment.approved") == []


def test_a_plain_approval_counts_on_an_untouched_issue(broker):
    """The contract's `/foureyes approve` (no digest) binds to the stored request through
    the text check: on an issue that still says what foureyes wrote, it approves."""
    escalation_id, number, _digest = escalate(broker)
    human_says(broker, number, "bob", "/foureyes approve")
    assert broker.rows(Escalation)[0].status == "approved"
    assert redeem(broker, escalation_id).status_code == 201


def test_a_plain_approval_of_a_rewritten_issue_voids_the_request(broker):
    escalation_id, number, digest = escalate(broker)
    rewrite(broker, number, digest)  # the edit webhook is never delivered
    human_says(broker, number, "bob", "/foureyes approve")
    assert broker.rows(Escalation)[0].status == "denied"
    assert "edited after foureyes opened it" in replies(broker, number)[-1]
    assert redeem(broker, escalation_id).status_code == 403


def test_an_edit_voids_the_request_whatever_case_the_agent_spelled_the_repository_in(broker):
    """GitHub's names are case-insensitive: an agent asking for `ACME/Agents` gets its
    escalation stored so, while the `issues.edited` delivery names `acme/agents`."""
    broker.sim.set_role(REPO, "bob", "admin")
    asked = broker.ask({**WIDE, "repository": "ACME/Agents"})
    assert asked.json["error"] == "escalation_required", asked.json
    [row] = broker.rows(Escalation)
    body = broker.sim.world.repo(REPO).issues[row.issue_number].body
    rewrite(broker, row.issue_number, shown_digest(body))
    deliver(broker.sim, broker.app, "issues", broker.sim.last_payload)
    assert broker.rows(Escalation)[0].status == "denied"


def test_a_human_approves_an_escalation_whatever_case_the_repository_was_asked_in(broker):
    broker.sim.set_role(REPO, "bob", "admin")
    asked = broker.ask({**WIDE, "repository": "ACME/Agents"})
    [row] = broker.rows(Escalation)
    human_says(broker, row.issue_number, "bob", "/foureyes approve")
    assert broker.rows(Escalation)[0].status == "approved"
    again = broker.ask(
        {**WIDE, "repository": "ACME/Agents", "escalation": asked.json["escalation"]["id"]}
    )
    assert again.status_code == 201, again.json
