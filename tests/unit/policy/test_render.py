"""What people read: the check run's summary and text, the CLI's tree, the details page."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.errors import PolicyError
from app.policy.evaluate import evaluate, policy_error_result
from app.policy.load import load_policy
from app.policy.render import MAX_CHECK_OUTPUT, check_summary, check_text, html_tree, plain_text
from app.policy.result import Approval, Node, Result, Status
from app.policy.schema import DEFAULT_POLICY
from tests.factories import OLD_SHA, agent_pr, review, reviewer, with_approvals

DETAILS = "http://localhost:3000/prs/acme/widgets/7"
EVIL = "<img src=x onerror=alert(1)>](http://evil)"


def blocked_result():
    facts = with_approvals(agent_pr(), "alice", commit=OLD_SHA)
    facts = replace(facts, reviews=(*facts.reviews, review("renovate[bot]")))
    return evaluate(DEFAULT_POLICY, facts, "acme/widgets:.github/foureyes.yml@abc")


def test_the_summary_says_what_blocks_who_can_unblock_and_why():
    summary = check_summary(blocked_result(), DETAILS)
    assert "Blocked\\: human review needs 1 more approval \\(write\\)" in summary
    assert "**Who can unblock**: 1 more approval on head a1b2c3d" in summary
    assert "alice (ignored): approved an older head 0f9e8d7" in summary
    assert "renovate\\[bot\\] (ignored): is a bot" in summary
    assert "author foureyes\\[bot\\] is this app's bot" in summary
    assert "acme/widgets\\:\\.github/foureyes\\.yml\\@abc" in summary
    assert f"[full decision tree]({DETAILS})" in summary


def test_a_passing_summary_names_the_counted_approval():
    result = evaluate(DEFAULT_POLICY, with_approvals(agent_pr(), "alice"), "built-in")
    summary = check_summary(result, DETAILS)
    assert summary.startswith("## ✅ Approved by alice")
    assert "alice (counted): write permission, approved head a1b2c3d" in summary


def test_a_broken_policy_summary_lists_each_error():
    with pytest.raises(PolicyError) as caught:
        load_policy("merge:\n  rulez: []\nversion: 3\n", "p.yml")
    summary = check_summary(policy_error_result(caught.value, "p.yml", "a" * 40), DETAILS)
    assert "merge\\.rulez: line 2\\: unknown key" in summary
    assert "version: line 3\\: only version 1 is supported" in summary


def test_attacker_chosen_names_cannot_inject_markup():
    facts = with_approvals(agent_pr(head_ref=EVIL), EVIL.replace(" ", ""))
    facts = replace(facts, reviewers={**facts.reviewers, "x": reviewer()})
    result = evaluate(DEFAULT_POLICY, facts, "built-in")
    page = html_tree(result)
    assert "<img" not in page
    assert "&lt;img" in page
    summary = check_summary(result, DETAILS) + check_text(result)
    assert "<img" not in summary
    assert "](http://evil)" not in summary


def test_the_summary_is_truncated_under_githubs_limit_with_a_note():
    many = tuple(Approval(f"user{i}", False, "is a bot " * 20) for i in range(2000))
    node = Node("human review", Status.PENDING, "needs 1 more approval", approvals=many)
    result = Result(
        conclusion="action_required",
        title="Blocked",
        root=Node("merge gate", Status.PENDING, "Agent work", children=(node,)),
        agent_involved=True,
    )
    summary = check_summary(result, DETAILS)
    assert len(summary) <= MAX_CHECK_OUTPUT
    assert summary.endswith(f"*(truncated: the full decision tree is at {DETAILS})*")
    assert len(check_text(result)) <= MAX_CHECK_OUTPUT


def test_plain_text_is_the_whole_tree_without_terminal_escapes():
    text = plain_text(blocked_result())
    assert text.splitlines()[0] == (
        "action_required: Blocked: human review needs 1 more approval (write)"
    )
    assert "  [pending] human review: Blocked: needs 1 more approval (write)." in text
    assert "      - alice: approved an older head 0f9e8d7" in text
    sneaky = replace(blocked_result(), title="ok\x1b[2J\x1b]0;pwned\x07")
    assert "\x1b" not in plain_text(sneaky)


def test_every_node_appears_in_the_text_and_html():
    result = blocked_result()
    for rendered in (check_text(result), html_tree(result)):
        assert "merge gate" in rendered
        assert "human review" in rendered
        assert "alice" in rendered
