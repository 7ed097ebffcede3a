"""Identity comes from who acted (invariants 3, 10, 11), in the pure evaluator: who pushed,
which humans a live agent token excludes, an approval's base, who dismissed a review."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from app.policy.evaluate import evaluate
from app.policy.facts import Dismissal, Push
from app.policy.load import DEFAULT_POLICY, load_policy
from tests.factories import (
    APP_BOT,
    HEAD_SHA,
    NOW,
    account,
    agent_pr,
    live_token,
    pr_facts,
    review,
    reviewer,
    with_approvals,
)

SOURCE = "test"


def considered(result, login: str) -> str:
    [node] = result.root.children
    return next(a.reason for a in node.approvals if a.login == login)


def test_a_commit_pushed_by_this_apps_bot_makes_a_human_pull_request_agent_work():
    facts = pr_facts(author="hugo", pushes=(Push(HEAD_SHA, APP_BOT),))
    result = evaluate(DEFAULT_POLICY, facts, SOURCE)
    assert result.conclusion == "action_required"
    assert f"commit {HEAD_SHA[:7]} was pushed by {APP_BOT}, who is this app's bot" in (
        result.agent_reasons
    )


def test_a_humans_push_leaves_a_human_pull_request_ungated():
    facts = pr_facts(author="hugo", pushes=(Push(HEAD_SHA, "hugo"),))
    assert evaluate(DEFAULT_POLICY, facts, SOURCE).conclusion == "success"


def test_an_unknown_pusher_is_an_agent_while_a_token_that_could_push_was_live():
    unknown = pr_facts(author="hugo", pushers_unknown=(HEAD_SHA,))
    assert evaluate(DEFAULT_POLICY, unknown, SOURCE).conclusion == "success"  # no token
    readers = replace(unknown, live_tokens=(live_token(can_push=False),))
    assert evaluate(DEFAULT_POLICY, readers, SOURCE).conclusion == "success"
    pushers = replace(unknown, live_tokens=(live_token(),))
    result = evaluate(DEFAULT_POLICY, pushers, SOURCE)
    assert result.conclusion == "action_required"
    assert (
        f"GitHub did not say who pushed commit {HEAD_SHA[:7]}, and agent token tok123"
        in (result.agent_reasons[0])
    )


def test_every_human_behind_a_live_token_is_excluded_whatever_the_branch():
    facts = agent_pr(head_ref="fix-typo", live_tokens=(live_token("alice"), live_token("bob")))
    facts = with_approvals(facts, "alice", "bob")
    result = evaluate(DEFAULT_POLICY, facts, SOURCE)
    assert result.conclusion == "action_required"
    assert "agent token tok123" in considered(result, "alice")
    assert "acting for them was live" in considered(result, "bob")
    assert "alice (agent token tok123" in result.root.unblock


def test_a_live_token_excludes_nobody_from_a_pull_request_no_agent_touched():
    policy = load_policy(
        "version: 1\nmerge:\n  gate_humans: true\n  rules:\n    - name: all\n"
        "      if: {base: ['**']}\n      require: {approvals: 1}\n",
        SOURCE,
    )
    facts = with_approvals(pr_facts(author="hugo", live_tokens=(live_token("alice"),)), "alice")
    assert evaluate(policy, facts, SOURCE).conclusion == "success"


def test_an_approval_given_before_the_base_changed_does_not_count():
    facts = with_approvals(agent_pr(), "maria")
    assert evaluate(DEFAULT_POLICY, facts, SOURCE).conclusion == "success"
    moved = replace(facts, base_since=NOW, base_change="the base changed to main")
    result = evaluate(DEFAULT_POLICY, moved, SOURCE)
    assert result.conclusion == "action_required"
    assert considered(result, "maria").startswith("approved before the base changed to main")
    later = replace(moved, base_since=NOW - timedelta(seconds=1))
    assert evaluate(DEFAULT_POLICY, later, SOURCE).conclusion == "success"


def dismissed_block(actors, state="changes_requested"):
    blocked = review("maria", "DISMISSED")
    facts = with_approvals(agent_pr(reviews=(blocked,)), "sam")
    reviewers = {**facts.reviewers, "maria": reviewer(), "lead": reviewer("admin")}
    dismissal = Dismissal(blocked.id, tuple(account(a) for a in actors), state)
    return replace(facts, reviewers=reviewers, dismissals={blocked.id: dismissal})


def test_a_dismissal_by_the_bot_or_by_nobody_on_record_leaves_the_block_standing():
    for actors, why in (((APP_BOT,), f"dismissed by {APP_BOT}, who is a bot"), ((), "no record")):
        result = evaluate(DEFAULT_POLICY, dismissed_block(actors), SOURCE)
        assert result.conclusion == "action_required", actors
        assert why in considered(result, "maria")
    unknown_state = evaluate(DEFAULT_POLICY, dismissed_block((APP_BOT,), None), SOURCE)
    assert unknown_state.conclusion == "action_required"


def test_a_dismissal_by_an_eligible_human_lifts_the_block():
    result = evaluate(DEFAULT_POLICY, dismissed_block(("lead",)), SOURCE)
    assert result.conclusion == "success"
    assert considered(result, "maria") == "review was dismissed"
    # The agent's own human is not one: a live token excludes them here too.
    facts = dismissed_block(("alice",))
    facts = replace(
        facts,
        live_tokens=(live_token("alice"),),
        reviewers={**facts.reviewers, "alice": reviewer()},
    )
    assert evaluate(DEFAULT_POLICY, facts, SOURCE).conclusion == "action_required"


def test_an_approval_the_bot_dismissed_stays_dismissed():
    result = evaluate(DEFAULT_POLICY, dismissed_block((APP_BOT,), "approved"), SOURCE)
    assert result.conclusion == "success"  # sam's approval; maria's approval is gone
    assert considered(result, "maria") == "review was dismissed"
