"""Lesser finding (c): escalation approvers were not checked against `agents.logins`.
An account the policy names as an agent (a user-type agent account with admin on the
repository) could approve its own, or a sibling agent's, escalation. Now a login that
matches `agents.logins` never decides an escalation, as bots never do."""

from __future__ import annotations

from app.identity.binding import approve_command, shown_digest
from app.identity.models import Escalation
from tests.attacks.agent import deliver, write_policy
from tests.unit.identity.conftest import POLICY

REPO = "acme/agents"
AGENTS = 'agents:\n  logins: ["ci-agent-*"]\n'


def test_a_login_in_agents_logins_cannot_approve_an_escalation(broker):
    sim = broker.sim
    write_policy(sim, REPO, POLICY.format(issuer=broker.issuer.url) + AGENTS)
    sim.set_role(REPO, "ci-agent-9", "admin")
    asked = broker.ask(
        {"repository": REPO, "permissions": {"contents": "write", "workflows": "write"}}
    )
    assert asked.json["error"] == "escalation_required", asked.json
    [row] = broker.rows(Escalation)
    issue = sim.world.repo(REPO).issues[row.issue_number]

    sim.comment(REPO, issue.number, "ci-agent-9", approve_command(shown_digest(issue.body) or ""))
    deliver(sim, broker.app, "issue_comment", sim.last_payload)

    assert broker.rows(Escalation)[0].status == "pending"
    [reply] = [c.body for c in sim.world.repo(REPO).comments if c.user == "foureyes[bot]"]
    assert "agents.logins" in reply
    assert broker.events("escalation.approved") == []
    used = broker.ask(
        {
            "repository": REPO,
            "permissions": {"contents": "write", "workflows": "write"},
            "escalation": asked.json["escalation"]["id"],
        }
    )
    assert used.status_code == 403
