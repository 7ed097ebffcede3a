"""The deployment protection rule's decision (pure)."""

from __future__ import annotations

import pytest

from app.deploy.decide import DeploymentFacts, decide_deployment, policy_error_decision
from app.deploy.provenance import Provenance
from app.policy.schema import Agents, Deployment, Policy
from tests.factories import APP_BOT, account, agent_link

SHA = "e" * 40
REVIEWED = Provenance(True, "commit eeeeeee was approved through the merge gate")
UNREVIEWED = Provenance(False, "commit eeeeeee carries unreviewed agent commits: aaaaaaa")


def policy(**deployments: str) -> Policy:
    return Policy(
        agents=Agents(logins=("ci-agent-*",)),
        deployments={env: Deployment(agents=v) for env, v in deployments.items()}
        if deployments
        else {"*": Deployment(agents="require_approval")},
    )


def facts(**overrides) -> DeploymentFacts:
    values = {
        "repository": "acme/app",
        "environment": "production",
        "sha": SHA,
        "ref": "main",
        "creator": account("dana"),
        "triggering_actor": account("dana"),
        "provenance": REVIEWED,
        "app_bot_login": APP_BOT,
    }
    return DeploymentFacts(**{**values, **overrides})


def test_a_human_deploying_reviewed_code_is_approved_whatever_the_policy_says():
    decision = decide_deployment(policy(production="reject"), facts())
    assert decision.state == "approved"
    assert not decision.agent_involved
    assert "No agent involvement" in decision.comment


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"creator": account(APP_BOT)}, "creator"),
        ({"triggering_actor": account("ci-agent-1")}, "triggering actor"),
        ({"provenance": UNREVIEWED}, "unreviewed agent commits"),
        ({"ref": "agents/ci/tok123/fix", "agent_link": agent_link()}, "agent token tok123"),
    ],
)
def test_each_source_of_agent_involvement_rejects_under_reject(override, expected):
    decision = decide_deployment(policy(production="reject"), facts(**override))
    assert decision.state == "rejected"
    assert decision.verdict == "reject"
    assert any(expected in reason for reason in decision.reasons)
    assert expected in decision.comment  # the comment says why


def test_the_first_matching_environment_decides_case_insensitively():
    rules = policy(production="reject", **{"prod*": "allow", "*": "require_approval"})
    agent = {"creator": account(APP_BOT)}
    assert decide_deployment(rules, facts(environment="Production", **agent)).state == "rejected"
    assert decide_deployment(rules, facts(environment="prod-eu", **agent)).state == "approved"
    assert decide_deployment(rules, facts(environment="staging", **agent)).state == "pending"


def test_require_approval_holds_and_says_why():
    decision = decide_deployment(policy(), facts(provenance=UNREVIEWED))
    assert decision.state == "pending"
    assert decision.verdict == "require_approval"
    assert "human's approval" in decision.comment
    assert "aaaaaaa" in decision.comment


def test_an_unreadable_policy_rejects():
    decision = policy_error_decision("line 3: unknown key")
    assert decision.state == "rejected"
    assert "line 3" in decision.comment
