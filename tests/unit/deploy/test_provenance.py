"""Reviewed provenance and who counts as an agent (pure)."""

from __future__ import annotations

from app.deploy.provenance import agent_branch_reason, agent_reason, commit_provenance
from app.policy.schema import Agents, Policy
from tests.factories import APP_BOT, account, agent_link, commit

POLICY = Policy(agents=Agents(logins=("ci-agent-*",), branches=("copilot/**",)))
SHA = "c" * 40


def test_the_apps_bot_and_agent_logins_are_agents_and_humans_are_not():
    assert "agent tokens" in agent_reason(POLICY, APP_BOT, account(APP_BOT))
    assert "agents.logins" in agent_reason(POLICY, APP_BOT, "CI-Agent-7")
    assert agent_reason(POLICY, APP_BOT, "octocat") is None
    assert agent_reason(POLICY, APP_BOT, "github-actions[bot]") is None
    assert agent_reason(POLICY, APP_BOT, None) is None


def test_agent_branches_by_token_link_or_policy_glob():
    assert "tok123" in agent_branch_reason(POLICY, "refs/heads/agents/ci/tok123/x", agent_link())
    assert "agents.branches" in agent_branch_reason(POLICY, "copilot/fix-1", None)
    assert agent_branch_reason(POLICY, "main", None) is None


def test_a_countersigned_commit_is_reviewed_whatever_it_carries():
    found = commit_provenance(POLICY, APP_BOT, SHA, countersigned=True, introduced=None)
    assert found.reviewed
    assert "merge gate" in found.reason


def test_a_commit_introducing_only_human_commits_is_reviewed():
    found = commit_provenance(
        POLICY,
        APP_BOT,
        SHA,
        countersigned=False,
        introduced=(commit("a" * 40, "octocat"), commit("b" * 40, "hubot", "web-flow")),
        base="main",
    )
    assert found.reviewed
    assert found.agent_commits == ()


def test_an_agent_commit_makes_it_unreviewed_and_names_the_commit_and_agent():
    found = commit_provenance(
        POLICY,
        APP_BOT,
        SHA,
        countersigned=False,
        introduced=(commit("a" * 40, "octocat"), commit("b" * 40, "octocat", "ci-agent-2")),
        base="d" * 40,
    )
    assert not found.reviewed
    assert found.agent_commits == ("bbbbbbb",)
    assert found.agents == ("ci-agent-2",)
    assert "since ddddddd" in found.reason


def test_commits_that_could_not_be_listed_are_not_reviewed():
    found = commit_provenance(POLICY, APP_BOT, SHA, countersigned=False, introduced=None)
    assert not found.reviewed
    assert "could not be listed" in found.reason
