"""Which pull requests count as agent work, and the reasons people read."""

from __future__ import annotations

from dataclasses import replace

from app.policy.agents import INCOMPLETE_REASON, agent_involvement
from app.policy.load import load_policy
from app.policy.schema import DEFAULT_POLICY
from tests.factories import APP_BOT, account, agent_link, commit, pr_facts

POLICY = load_policy(
    """\
agents:
  known: false  # the catalogue's own tests are in test_catalogue.py
  logins: ["copilot-swe-agent[bot]", "ci-agent-*"]
  branches: ["copilot/**"]
  labels: ["ai-generated"]
""",
    "x",
)


def test_a_human_pull_request_is_not_agent_work():
    assert agent_involvement(POLICY, pr_facts()) == ()


def test_the_apps_own_bot_as_author_is_agent_work_even_under_the_default_policy():
    facts = pr_facts(author=account(APP_BOT, "Bot"), commits=())
    assert agent_involvement(DEFAULT_POLICY, facts) == (f"author {APP_BOT} is this app's bot",)


def test_an_author_matching_agents_logins():
    facts = pr_facts(author="copilot-swe-agent[bot]")
    assert "author copilot-swe-agent[bot] matches agents.logins" in agent_involvement(POLICY, facts)


def test_a_head_branch_matching_agents_branches():
    facts = pr_facts(head_ref="copilot/fix-123")
    assert agent_involvement(POLICY, facts) == (
        "head branch copilot/fix-123 matches agents.branches",
    )


def test_a_label_matching_agents_labels_case_insensitively():
    facts = pr_facts(labels=("bug", "AI-Generated"))
    assert agent_involvement(POLICY, facts) == ("label AI-Generated matches agents.labels",)


def test_a_commit_authored_by_an_agent_in_a_human_pull_request():
    facts = pr_facts(
        commits=(
            commit("1a2b3c4d5e", author="octocat"),
            commit("2b3c4d5e6f", author="ci-agent-7", committer="octocat"),
        )
    )
    assert agent_involvement(POLICY, facts) == ("commit 2b3c4d5 authored by ci-agent-7",)


def test_a_commit_committed_by_the_apps_bot():
    facts = pr_facts(commits=(commit("3c4d5e6f7a", author="octocat", committer=APP_BOT),))
    assert agent_involvement(DEFAULT_POLICY, facts) == (f"commit 3c4d5e6 committed by {APP_BOT}",)


def test_a_token_broker_branch_is_agent_work():
    facts = pr_facts(agent_link=agent_link(token_id="tok9"), head_ref="agents/ci/tok9/x")
    (reason,) = agent_involvement(DEFAULT_POLICY, facts)
    assert reason.startswith("head branch agents/ci/tok9/x was pushed with agent token tok9")


def test_incomplete_facts_cannot_rule_out_an_agent():
    facts = replace(pr_facts(), complete=False)
    assert agent_involvement(POLICY, facts) == (INCOMPLETE_REASON,)


def test_every_source_is_listed_once():
    facts = pr_facts(
        author="ci-agent-1",
        head_ref="copilot/x",
        labels=("ai-generated",),
        commits=(commit("4d5e6f7a8b", author="ci-agent-1"),),
    )
    assert agent_involvement(POLICY, facts) == (
        "author ci-agent-1 matches agents.logins",
        "head branch copilot/x matches agents.branches",
        "label ai-generated matches agents.labels",
        "commit 4d5e6f7 authored by ci-agent-1",
        "commit 4d5e6f7 committed by ci-agent-1",
    )
