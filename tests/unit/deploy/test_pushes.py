"""The push guard's decision (pure)."""

from __future__ import annotations

import pytest

from app.deploy.pushes import PushFacts, merge_flags, push_flags
from app.policy.schema import Agents, Policy
from tests.factories import APP_BOT, agent_link, live_token

POLICY = Policy(agents=Agents(logins=("ci-agent-*",)))
PREFIX_BRANCH = "refs/heads/agents/ci/tok123/fix"


def facts(**overrides) -> PushFacts:
    values = {
        "repository": "acme/app",
        "ref": PREFIX_BRANCH,
        "pusher": APP_BOT,
        "default_branch": "main",
        "protected": False,
        "app_bot_login": APP_BOT,
        "agent_link": agent_link(),
        "live_tokens": (live_token(),),  # the prefix's token, and only it, could push
    }
    return PushFacts(**{**values, **overrides})


def test_an_agent_token_inside_its_prefix_is_not_flagged():
    assert not push_flags(POLICY, facts()).flagged


def test_a_human_is_never_flagged():
    pushed = facts(pusher="dana", ref="refs/heads/main", forced=True, agent_link=None)
    assert not push_flags(POLICY, pushed).flagged


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"ref": "refs/heads/main", "agent_link": None}, "default branch main"),
        ({"ref": "refs/heads/release", "protected": True, "agent_link": None}, "protected"),
        ({"ref": "refs/heads/feature", "agent_link": None}, "outside any agent token"),
        ({"ref": "refs/tags/v1", "agent_link": None}, "outside any agent token"),
        ({"forced": True}, "force-pushed"),
        ({"pusher": "ci-agent-2", "agent_link": None, "ref": "refs/heads/main"}, "default"),
        ({"pusher": "ci-agent-2", "agent_link": None, "forced": True}, "force-pushed"),
    ],
)
def test_each_case_is_flagged_with_its_reason(override, reason):
    flags = push_flags(POLICY, facts(**override))
    assert flags.flagged
    assert any(reason in text for text in flags.reasons)


def test_a_push_under_a_prefix_whose_token_could_not_push_is_flagged():
    flags = push_flags(POLICY, facts(live_tokens=(live_token(token_id="other"),)))
    assert flags.flagged
    assert "tok123's branch prefix, but that token could not push then" in flags.reasons[0]
    assert flags.agent == APP_BOT  # the prefix does not name the pusher


def test_a_push_under_a_prefix_while_another_token_could_push_is_flagged():
    tokens = (live_token(), live_token("erin", "other"), live_token("finn", "reader", False))
    flags = push_flags(POLICY, facts(live_tokens=tokens))
    assert flags.reasons == (
        "pushed to agents/ci/tok123/fix under agent token tok123's branch prefix while agent"
        " token other could push too: which token pushed cannot be told",
    )


def test_the_agent_is_named_by_its_workload_identity_when_the_token_is_known():
    flags = push_flags(POLICY, facts(forced=True))
    assert flags.agent == agent_link().agent
    assert push_flags(POLICY, facts(ref="refs/heads/x", agent_link=None)).agent == APP_BOT


def test_an_agent_login_pushing_its_own_branch_is_not_flagged():
    # Logins in agents.logins carry no token prefix: only where they push matters.
    assert not push_flags(POLICY, facts(pusher="ci-agent-2", agent_link=None)).flagged


def test_merges_by_agents_are_flagged_and_by_humans_not():
    assert merge_flags(POLICY, APP_BOT, APP_BOT).flagged
    assert merge_flags(POLICY, "ci-agent-4", APP_BOT).agent == "ci-agent-4"
    assert not merge_flags(POLICY, "dana", APP_BOT).flagged
    assert not merge_flags(POLICY, None, APP_BOT).flagged


def test_a_branch_whose_protection_github_could_not_report_is_flagged_for_agents_only():
    unknown = facts(ref="refs/heads/agents/ci/tok123/release", protected=None)
    flags = push_flags(POLICY, unknown)
    assert flags.reasons == (
        "pushed to agents/ci/tok123/release, which may be protected (GitHub could not say)",
    )
    human = facts(pusher="dana", ref="refs/heads/release", protected=None, agent_link=None)
    assert not push_flags(POLICY, human).flagged
