"""Attack 6: the floor has holes. A `tokens` rule or an escalation granted what the gate
relies on: `deployments: write` (the agent answers its own deployment protection rule),
`actions: write` (it re-runs what the workflow guard cancelled), `repository_custom_
properties: write` (it moves the repository out of an org ruleset). The server's floor
(`app.policy.permissions`) refuses them whatever a rule or a human says."""

from __future__ import annotations

import pytest

from app.identity.binding import approve_command
from app.identity.escalation import digest
from app.identity.models import Escalation
from tests.attacks.agent import call, deliver, write_policy

RECKLESS = """\
version: 1
tokens:
  - name: deployer
    issuer: {issuer}
    subject: "repo:acme/agents:ref:refs/heads/**"
    permissions: {{contents: write, {floored}}}
"""


@pytest.mark.parametrize(
    "name", ["deployments", "actions", "repository_custom_properties", "checks", "statuses"]
)
def test_a_policy_rule_granting_a_floored_permission_mints_nothing(broker, name):
    write_policy(
        broker.sim,
        "acme/agents",
        RECKLESS.format(issuer=broker.issuer.url, floored=f"{name}: write"),
    )
    asked = broker.ask({"repository": "acme/agents", "permissions": {name: "write"}})
    assert asked.status_code == 403, asked.json
    assert asked.json["error"] == "denied"
    assert "never granted to agents" in asked.json["reason"]
    assert broker.agent_tokens() == []
    [denied] = broker.events("token.denied")
    assert name in denied.reason


def test_an_escalation_for_actions_write_is_refused_when_asked(broker):
    asked = broker.ask(
        {"repository": "acme/agents", "permissions": {"contents": "write", "actions": "write"}}
    )
    assert asked.status_code == 403, asked.json
    assert asked.json["error"] == "denied"
    assert "actions: write" in asked.json["reason"]
    assert broker.rows(Escalation) == []
    assert broker.sim.world.repo("acme/agents").issues == {}


def test_the_agent_cannot_approve_its_own_deployment(broker):
    """With what the broker does give it, the agent's answer to its own deployment
    protection rule is refused by GitHub, and `deployments: write` is never brokered."""
    sim = broker.sim
    _deployment, run_id = sim.request_deployment(
        "acme/agents", environment="production", creator="alice"
    )
    wider = broker.ask({"repository": "acme/agents", "permissions": {"deployments": "write"}})
    assert wider.status_code == 403 and wider.json["error"] == "denied"
    issued = broker.ask({"repository": "acme/agents", "permissions": {"contents": "write"}})
    assert issued.status_code == 201, issued.json
    answered = call(
        sim,
        issued.json["token"],
        "POST",
        f"/repos/acme/agents/actions/runs/{run_id}/deployment_protection_rule",
        {"environment_name": "production", "state": "approved", "comment": "lgtm"},
    )
    assert answered.status_code == 403
    assert sim.deployment_gate(run_id, "production") == "waiting"


def test_an_escalation_for_actions_write_is_refused_when_approved(broker):
    """An escalation for a floored permission recorded before the floor covered it: the
    human's approval is refused, and the agent cannot redeem it."""
    asked = broker.ask(
        {"repository": "acme/agents", "permissions": {"contents": "write", "workflows": "write"}}
    )
    escalation_id = asked.json["escalation"]["id"]
    floored = {"contents": "write", "actions": "write"}
    deps = broker.app.extensions["foureyes"]
    with deps.sessions.begin() as session:
        session.get(Escalation, escalation_id).permissions = floored
    [row] = broker.rows(Escalation)
    issue = broker.sim.world.repo("acme/agents").issues[row.issue_number]
    broker.sim.set_role("acme/agents", "bob", "admin")
    broker.sim.comment("acme/agents", issue.number, "bob", approve_command(digest(row)))
    deliver(broker.sim, broker.app, "issue_comment", broker.sim.last_payload)

    [row] = broker.rows(Escalation)
    assert row.status == "denied"
    [denied] = broker.events("escalation.denied")
    assert "actions: write is never granted to agents" in denied.reason
    assert broker.events("escalation.approved") == []
    used = broker.ask(
        {"repository": "acme/agents", "permissions": floored, "escalation": escalation_id}
    )
    assert used.status_code == 403 and "actions: write" in used.json["reason"]
    assert broker.agent_tokens() == []
