"""Escalations: requested, an issue opened, decided by an eligible human, used once."""

from __future__ import annotations

from app.identity.binding import approve_command, shown_digest
from app.identity.decide import handle_issue_comment
from app.identity.links import find_agent_link
from app.identity.models import Escalation

WIDE = {
    "repository": "acme/agents",
    "permissions": {"contents": "write", "workflows": "write"},
    "ttl": 600,
    "task": "bump the CI matrix @everyone ```",
}


def issues(broker):
    return broker.sim.world.repo("acme/agents").issues


def comments(broker, number):
    return [c for c in broker.sim.world.repo("acme/agents").comments if c.issue_number == number]


def comment(broker, number, login, body):
    broker.sim.comment("acme/agents", number, login, body)
    with broker.app.app_context():
        handle_issue_comment(broker.sim.last_payload, broker.app.extensions["foureyes"])


def escalation(broker) -> Escalation:
    [row] = broker.rows(Escalation)
    return row


def approve(broker) -> str:
    """The approval command naming the digest the escalation's issue shows."""
    [issue] = issues(broker).values()
    return approve_command(shown_digest(issue.body) or "")


def request_escalation(broker):
    response = broker.ask(WIDE)
    assert response.status_code == 403, response.json
    assert response.json["error"] == "escalation_required"
    return response.json["escalation"]


def test_a_request_beyond_the_rule_opens_an_issue_and_mints_nothing(broker):
    asked = request_escalation(broker)
    assert asked["url"] == f"http://localhost:3000/escalations/{asked['id']}"
    assert broker.agent_tokens() == []
    [issue] = issues(broker).values()
    assert issue.author == "foureyes[bot]"
    assert "workflows: write" in issue.title
    assert asked["id"] in issue.body
    assert "`alice`" in issue.body  # the human it acts for, named without a ping
    assert "````text\nbump the CI matrix @everyone ```\n````" in issue.body
    assert escalation(broker).issue_number == issue.number
    [requested] = broker.events("escalation.requested")
    assert requested.subject == f"escalation:{asked['id']}"
    page = broker.client.get(f"/escalations/{asked['id']}")
    assert page.status_code == 200 and b"pending" in page.data


def test_asking_again_while_pending_reuses_the_escalation(broker):
    first = request_escalation(broker)
    second = request_escalation(broker)
    assert first["id"] == second["id"]
    assert len(issues(broker)) == 1


def test_full_cycle_ineligible_ignored_eligible_approves_used_once(broker):
    sim = broker.sim
    sim.set_role("acme/agents", "carol", "write")
    sim.set_role("acme/agents", "alice", "admin")
    sim.set_role("acme/agents", "bob", "admin")
    asked = request_escalation(broker)
    number = escalation(broker).issue_number

    comment(broker, number, "carol", "/foureyes approve")  # not admin
    comment(broker, number, "alice", "/foureyes approve")  # the human the agent acts for
    comment(broker, number, "ci-helper[bot]", "/foureyes approve")  # a bot
    comment(broker, number, "bob", "I will look at it")  # not a command
    assert escalation(broker).status == "pending"
    assert issues(broker)[number].state == "open"
    replies = [c.body for c in comments(broker, number) if c.user == "foureyes[bot]"]
    assert len(replies) == 2
    assert "admin permission" in replies[0] and "acts for" in replies[1]

    # Using it before approval is refused.
    early = broker.ask({**WIDE, "escalation": asked["id"]})
    assert early.status_code == 403 and "pending" in early.json["reason"]

    comment(broker, number, "bob", approve(broker))
    row = escalation(broker)
    assert (row.status, row.decided_by) == ("approved", "bob")
    assert issues(broker)[number].state == "closed"
    assert "Approved by @bob" in comments(broker, number)[-1].body
    [approved] = broker.events("escalation.approved")
    assert approved.actor == "bob"

    # Another scope, another repository or another identity cannot use it.
    other_scope = {**WIDE, "permissions": {"workflows": "write"}, "escalation": asked["id"]}
    assert broker.ask(other_scope).status_code == 403
    other_identity = broker.jwt(ref="refs/heads/dev")
    assert broker.ask({**WIDE, "escalation": asked["id"]}, jwt=other_identity).status_code == 403

    used = broker.ask({**WIDE, "escalation": asked["id"]})
    assert used.status_code == 201, used.json
    [token] = broker.agent_tokens()
    assert token.permissions == WIDE["permissions"]
    assert token.repositories == {"acme/agents"}

    again = broker.ask({**WIDE, "escalation": asked["id"]})
    assert again.status_code == 403
    assert len(broker.agent_tokens()) == 1
    assert escalation(broker).token_id == used.json["token_id"]


def test_a_denial_closes_the_issue_and_the_escalation_cannot_be_used(broker):
    broker.sim.set_role("acme/agents", "bob", "maintain")
    broker.sim.set_role("acme/agents", "dana", "admin")
    asked = request_escalation(broker)
    number = escalation(broker).issue_number
    comment(broker, number, "dana", "/foureyes deny")
    assert escalation(broker).status == "denied"
    assert issues(broker)[number].state == "closed"
    assert broker.events("escalation.denied")
    comment(broker, number, "dana", "/foureyes approve")  # decided: stays denied
    assert escalation(broker).status == "denied"
    assert broker.ask({**WIDE, "escalation": asked["id"]}).status_code == 403
    assert broker.agent_tokens() == []


def test_edits_and_comments_on_other_issues_are_ignored(broker):
    broker.sim.set_role("acme/agents", "bob", "admin")
    request_escalation(broker)
    number = escalation(broker).issue_number
    broker.sim.comment("acme/agents", number, "bob", "/foureyes approve")
    edited = {**broker.sim.last_payload, "action": "edited"}
    with broker.app.app_context():
        handle_issue_comment(edited, broker.app.extensions["foureyes"])
    assert escalation(broker).status == "pending"
    other = {
        **broker.sim.last_payload,
        "issue": {**broker.sim.last_payload["issue"], "number": number + 100},
    }
    with broker.app.app_context():
        handle_issue_comment(other, broker.app.extensions["foureyes"])
    assert escalation(broker).status == "pending"


def test_the_gate_finds_the_agent_behind_a_branch(broker):
    issued = broker.ask({"repository": "acme/agents", "permissions": {"contents": "write"}}).json
    with broker.app.extensions["foureyes"].sessions() as session:
        link = find_agent_link(session, "acme/agents", issued["branch_prefix"] + "fix-12")
        assert link is not None
        assert link.token_id == issued["token_id"]
        assert link.on_behalf_of == "alice"
        assert link.rule == "ci agents"
        assert link.agent.endswith(" repo:acme/agents:ref:refs/heads/main")
        assert find_agent_link(session, "acme/other", issued["branch_prefix"] + "x") is None
        assert find_agent_link(session, "acme/agents", "agents/ci-agents/unknown/x") is None
        assert find_agent_link(session, "acme/agents", "feature/x") is None
        wrong_rule = issued["branch_prefix"].replace("ci-agents", "other") + "x"
        assert find_agent_link(session, "acme/agents", wrong_rule) is None
