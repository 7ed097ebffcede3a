"""The merge gate's decisions: who may approve (invariants 3, 4), what blocks, fail closed (5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.errors import PolicyError
from app.policy.evaluate import evaluate, policy_error_result
from app.policy.load import load_policy
from app.policy.result import Conclusion, Status
from app.policy.schema import DEFAULT_POLICY
from tests.factories import (
    HEAD_SHA,
    OLD_SHA,
    account,
    agent_link,
    agent_pr,
    commit,
    pr_facts,
    review,
    reviewer,
    with_approvals,
)

SOURCE = "acme/widgets:.github/foureyes.yml@abc"
POLICY = load_policy(
    """\
agents:
  logins: ["ci-agent-*"]
merge:
  rules:
    - name: human review
    - name: workflow changes
      if: {agent: true, paths: [".github/workflows/**"]}
      require: {approvals: 2, teams: ["acme/security"]}
""",
    SOURCE,
)


def judge(facts, policy=DEFAULT_POLICY):
    return evaluate(policy, facts, SOURCE)


def rule(result, name):
    return next(node for node in result.root.children if node.name == name)


def considered(result, name, login):
    (approval,) = [a for a in rule(result, name).approvals if a.login == login]
    return approval


def test_an_unapproved_agent_pr_waits_for_a_human_and_says_who():
    result = judge(agent_pr())
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert result.title == "Blocked: human review needs 1 more approval (write)"
    assert rule(result, "human review").unblock == (
        "1 more approval on head a1b2c3d from a human with write permission,"
        " other than the author and committers"
    )
    assert result.agent_involved
    assert result.policy_source == SOURCE
    assert result.head_sha == HEAD_SHA


def test_an_agent_pr_approved_by_an_eligible_human_passes():
    result = judge(with_approvals(agent_pr(), "alice"))
    assert result.conclusion is Conclusion.SUCCESS
    assert result.title == "Approved by alice"
    approval = considered(result, "human review", "alice")
    assert approval.counted
    assert approval.reason == "write permission, approved head a1b2c3d"


def test_a_human_pr_needs_no_gate_by_default():
    result = judge(pr_facts())
    assert result.conclusion is Conclusion.SUCCESS
    assert result.title == "No agent involvement: no gate needed"
    assert not result.agent_involved


def test_draft_prs_are_judged_the_same():
    assert judge(agent_pr(draft=True)).conclusion is Conclusion.ACTION_REQUIRED
    draft = with_approvals(agent_pr(draft=True), "alice")
    assert judge(draft).conclusion is Conclusion.SUCCESS


# Invariant 3: only eligible humans count. Each case adds one approval that must not count.
@pytest.mark.parametrize(
    ("facts", "login", "reason"),
    [
        pytest.param(
            with_approvals(agent_pr(), "renovate[bot]", permission="admin"),
            "renovate[bot]",
            "is a bot",
            id="bot",
        ),
        pytest.param(
            replace(
                with_approvals(agent_pr(), "ci-agent-7", permission="admin"),
                reviews=(review("ci-agent-7", type="User"),),
            ),
            "ci-agent-7",
            "is an agent",
            id="agent-login-with-user-account",
        ),
        pytest.param(
            with_approvals(
                pr_facts(commits=(commit(HEAD_SHA, author="octocat", committer="ci-agent-2"),)),
                "octocat",
            ),
            "octocat",
            "is the pull request's author",
            id="author",
        ),
        pytest.param(
            with_approvals(
                agent_pr(commits=(commit(HEAD_SHA, author="ci-agent-1", committer="carol"),)),
                "carol",
            ),
            "carol",
            "authored or committed commit a1b2c3d",
            id="committer",
        ),
        pytest.param(
            with_approvals(agent_pr(agent_link=agent_link(on_behalf_of="dana")), "dana"),
            "dana",
            "is the human the agent works for",
            id="on-behalf-of",
        ),
        pytest.param(
            with_approvals(agent_pr(), "rita", permission="read"),
            "rita",
            "has read permission, needs write",
            id="insufficient-permission",
        ),
        pytest.param(
            with_approvals(agent_pr(), "uma", permission=None),
            "uma",
            "permission unknown",
            id="unknown-permission",
        ),
        pytest.param(
            replace(agent_pr(), reviews=(review("nora"),)),
            "nora",
            "permission unknown",
            id="reviewer-never-looked-up",
        ),
    ],
)
def test_ineligible_approvals_do_not_count(facts, login, reason):
    result = judge(facts, POLICY)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    approval = considered(result, "human review", login)
    assert not approval.counted
    assert reason in approval.reason


def test_allow_contributors_lets_a_committer_approve():
    facts = with_approvals(
        agent_pr(commits=(commit(HEAD_SHA, author="ci-agent-1", committer="carol"),)), "carol"
    )
    allowing = DEFAULT_POLICY.model_copy(
        update={"merge": DEFAULT_POLICY.merge.model_copy(update={"allow_contributors": True})}
    )
    assert judge(facts).conclusion is Conclusion.ACTION_REQUIRED
    assert judge(facts, allowing).conclusion is Conclusion.SUCCESS


def test_the_author_never_approves_even_when_contributors_may():
    policy = load_policy("merge:\n  allow_contributors: true\n", "x")
    facts = pr_facts(author="octocat", commits=(commit(HEAD_SHA, author="ci-agent-1"),))
    result = judge(
        with_approvals(facts, "octocat"), POLICY.model_copy(update={"merge": policy.merge})
    )
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert considered(result, "human review", "octocat").reason == "is the pull request's author"


def test_on_behalf_of_never_approves_even_when_contributors_may():
    policy = load_policy("merge:\n  allow_contributors: true\n", "x")
    facts = with_approvals(agent_pr(agent_link=agent_link(on_behalf_of="Dana")), "dana")
    result = judge(facts, policy)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert "other than the author and Dana" in rule(result, "human review").unblock


def test_permission_is_at_least_the_rules():
    policy = load_policy(
        "merge:\n  rules:\n    - name: maintainers\n      require: {permission: maintain}\n", "x"
    )
    assert judge(with_approvals(agent_pr(), "wes", permission="write"), policy).conclusion is (
        Conclusion.ACTION_REQUIRED
    )
    assert judge(with_approvals(agent_pr(), "ada", permission="admin"), policy).conclusion is (
        Conclusion.SUCCESS
    )


def test_team_constraint():
    policy = load_policy(
        "merge:\n  rules:\n    - name: security\n      require: {teams: [acme/security]}\n", "x"
    )
    in_team = with_approvals(agent_pr(), "sam", teams=("acme/security",))
    other_team = with_approvals(agent_pr(), "olga", teams=("acme/web",))
    unknown = replace(
        with_approvals(agent_pr(), "ugo"), reviewers={"ugo": reviewer("admin", teams=None)}
    )
    assert judge(in_team, policy).conclusion is Conclusion.SUCCESS
    result = judge(other_team, policy)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert considered(result, "security", "olga").reason == "not in acme/security"
    result = judge(unknown, policy)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert considered(result, "security", "ugo").reason == "team membership unknown"


def test_users_constraint_is_case_insensitive():
    policy = load_policy(
        "merge:\n  rules:\n    - name: owners\n      require: {users: [Alice]}\n", "x"
    )
    assert judge(with_approvals(agent_pr(), "alice"), policy).conclusion is Conclusion.SUCCESS
    result = judge(with_approvals(agent_pr(), "bob"), policy)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert considered(result, "owners", "bob").reason == "not among require.users"
    assert "who is one of Alice" in rule(result, "owners").unblock


# Invariant 4: an approval counts only for the head it reviewed.
def test_an_approval_of_an_older_head_does_not_count():
    result = judge(with_approvals(agent_pr(), "alice", commit=OLD_SHA))
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert considered(result, "human review", "alice").reason == "approved an older head 0f9e8d7"


def test_a_new_push_blocks_again_until_the_new_head_is_approved():
    approved = with_approvals(agent_pr(), "alice")
    assert judge(approved).conclusion is Conclusion.SUCCESS
    pushed = replace(approved, head_sha="f" * 40)
    result = judge(pushed)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert "on head fffffff" in rule(result, "human review").unblock


def test_only_the_latest_review_per_user_counts():
    base = replace(agent_pr(), reviewers={"alice": reviewer("write")})
    cases = {
        ("APPROVED", "COMMENTED"): Conclusion.SUCCESS,
        ("APPROVED", "CHANGES_REQUESTED"): Conclusion.ACTION_REQUIRED,
        ("CHANGES_REQUESTED", "APPROVED"): Conclusion.SUCCESS,
        ("APPROVED", "DISMISSED"): Conclusion.ACTION_REQUIRED,
        ("APPROVED", "PENDING"): Conclusion.SUCCESS,
    }
    for (first, second), expected in cases.items():
        facts = replace(base, reviews=(review("alice", first, id=1), review("Alice", second, id=2)))
        assert judge(facts).conclusion is expected, (first, second)


def test_reviews_are_ordered_by_id_not_by_list_position():
    facts = replace(
        agent_pr(),
        reviews=(review("alice", "APPROVED", id=9), review("alice", "CHANGES_REQUESTED", id=3)),
        reviewers={"alice": reviewer("write")},
    )
    assert judge(facts).conclusion is Conclusion.SUCCESS


def test_distinct_approvers_count_once():
    policy = load_policy("merge:\n  rules:\n    - name: two\n      require: {approvals: 2}\n", "x")
    facts = with_approvals(with_approvals(agent_pr(), "alice"), "alice")
    result = judge(facts, policy)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert result.title == "Blocked: two needs 1 more approval (write)"


def test_an_eligible_change_request_blocks_even_on_an_older_head():
    facts = with_approvals(agent_pr(), "alice")
    facts = replace(
        facts,
        reviews=(*facts.reviews, review("eve", "CHANGES_REQUESTED", commit=OLD_SHA)),
        reviewers={**facts.reviewers, "eve": reviewer("write")},
    )
    result = judge(facts)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert result.title == "Blocked: human review has changes requested by eve"
    assert rule(result, "human review").unblock == (
        "eve must approve head a1b2c3d or have their review dismissed"
    )


def test_an_ineligible_change_request_does_not_block():
    facts = with_approvals(agent_pr(), "alice")
    facts = replace(
        facts,
        reviews=(
            *facts.reviews,
            review("lint[bot]", "CHANGES_REQUESTED"),
            review("rita", "CHANGES_REQUESTED"),
        ),
        reviewers={**facts.reviewers, "rita": reviewer("read")},
    )
    result = judge(facts)
    assert result.conclusion is Conclusion.SUCCESS
    ignored = considered(result, "human review", "rita")
    assert ignored.reason == "requested changes, ignored: has read permission, needs write"


def test_workflow_changes_need_two_security_approvals():
    files = ("src/a.py", ".github/workflows/ci.yml")
    one = with_approvals(agent_pr(files=files), "sam", teams=("acme/security",))
    result = judge(one, POLICY)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert rule(result, "human review").status is Status.PASS
    assert rule(result, "workflow changes").status is Status.PENDING
    assert result.title == "Blocked: workflow changes needs 1 more approval (write)"
    assert "in acme/security" in rule(result, "workflow changes").unblock

    outsider = with_approvals(one, "olga")
    assert judge(outsider, POLICY).conclusion is Conclusion.ACTION_REQUIRED
    two = with_approvals(one, "tia", teams=("acme/security",))
    result = judge(two, POLICY)
    assert result.conclusion is Conclusion.SUCCESS
    assert result.title == "Approved by sam and tia"


def test_a_path_conditioned_rule_is_skipped_when_no_file_matches():
    result = judge(with_approvals(agent_pr(), "alice"), POLICY)
    assert result.conclusion is Conclusion.SUCCESS
    node = rule(result, "workflow changes")
    assert node.status is Status.SKIP
    assert node.description == "Does not apply: no changed file matches if.paths"


def test_two_pending_rules_are_both_named():
    result = judge(agent_pr(files=(".github/workflows/ci.yml",)), POLICY)
    assert result.title == "Blocked: human review needs 1 more approval (write) (and 1 more rule)"
    assert "workflow changes:" in result.root.unblock


@pytest.mark.parametrize(
    ("condition", "facts", "applies"),
    [
        ("{base: [release/*]}", {"base_ref": "release/1"}, True),
        ("{base: [release/*]}", {"base_ref": "main"}, False),
        ("{head: ['hotfix/**']}", {"head_ref": "hotfix/a/b"}, True),
        ("{labels: [Security]}", {"labels": ("security",)}, True),
        ("{labels: [security]}", {"labels": ()}, False),
        ("{authors: ['ci-*']}", {"author": "CI-Agent"}, True),
        ("{authors: ['ci-*'], base: [main]}", {"author": "ci-x", "base_ref": "dev"}, False),
    ],
)
def test_if_keys_must_all_match(condition, facts, applies):
    policy = load_policy(
        f"merge:\n  gate_humans: true\n  rules:\n    - name: r\n      if: {condition}\n", "x"
    )
    result = judge(pr_facts(**facts), policy)
    assert (rule(result, "r").status is not Status.SKIP) is applies


def test_gate_humans_applies_explicit_rules_without_agent_key_to_human_prs():
    policy = load_policy(
        """\
merge:
  gate_humans: true
  rules:
    - name: agents only
    - name: everyone
      if: {paths: ["src/**"]}
    - name: humans only
      if: {agent: false}
""",
        "x",
    )
    human = judge(pr_facts(), policy)
    assert human.conclusion is Conclusion.ACTION_REQUIRED
    assert rule(human, "agents only").status is Status.SKIP
    assert rule(human, "everyone").status is Status.PENDING
    assert rule(human, "humans only").status is Status.PENDING
    agent = judge(agent_pr(), policy)
    assert rule(agent, "humans only").status is Status.SKIP
    assert rule(agent, "agents only").status is Status.PENDING


def test_gate_humans_with_only_agent_rules_passes_human_prs():
    policy = load_policy("merge:\n  gate_humans: true\n", "x")
    result = judge(pr_facts(), policy)
    assert result.conclusion is Conclusion.SUCCESS
    assert result.title == "No rule applies: no approval needed"


# Invariant 5: fail closed.
def test_incomplete_facts_assume_an_agent_and_matching_paths():
    facts = replace(pr_facts(files=("README.md",)), complete=False)
    result = judge(facts, POLICY)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    assert result.agent_involved
    assert rule(result, "workflow changes").status is Status.PENDING
    assert "incomplete" in result.root.description


def test_incomplete_facts_apply_agent_false_rules_too():
    policy = load_policy(
        "merge:\n  gate_humans: true\n  rules:\n    - name: humans\n      if: {agent: false}\n",
        "x",
    )
    result = judge(replace(pr_facts(), complete=False), policy)
    assert rule(result, "humans").status is Status.PENDING


def test_incomplete_commits_cannot_rule_out_a_committer_approving():
    facts = with_approvals(replace(agent_pr(), complete=False), "alice")
    result = judge(facts)
    assert result.conclusion is Conclusion.ACTION_REQUIRED
    (considered,) = rule(result, "human review").approvals
    assert not considered.counted
    assert "incomplete" in considered.reason
    contributors_allowed = load_policy("merge:\n  allow_contributors: true\n", "x")
    assert judge(facts, contributors_allowed).conclusion is Conclusion.SUCCESS


def test_an_exception_during_evaluation_is_a_failure_not_a_pass():
    broken = replace(agent_pr(), reviews=(None,))
    result = judge(broken)
    assert result.conclusion is Conclusion.FAILURE
    assert result.root.status is Status.FAIL
    assert "AttributeError" in result.root.description
    assert result.head_sha == HEAD_SHA


def test_an_unknown_head_is_a_failure():
    result = judge(with_approvals(agent_pr(head_sha=""), "alice", commit=""))
    assert result.conclusion is Conclusion.FAILURE


def test_a_broken_policy_fails_with_every_error_named():
    with pytest.raises(PolicyError) as caught:
        load_policy("merge:\n  rules:\n    - name: r\n      require: {aprovals: 2}\n", SOURCE)
    result = policy_error_result(caught.value, SOURCE, HEAD_SHA)
    assert result.conclusion is Conclusion.FAILURE
    assert result.title == "Blocked: the policy is invalid (1 error)"
    (child,) = result.root.children
    assert child.name == "merge.rules[0].require.aprovals"
    assert child.description == "line 4: unknown key"
    assert child.status is Status.FAIL
    assert SOURCE in result.root.unblock


def test_the_author_can_be_a_user_type_account_of_an_agent():
    facts = with_approvals(pr_facts(author=account("ci-agent-3", "User")), "alice")
    result = judge(facts, POLICY)
    assert result.agent_involved
    assert result.conclusion is Conclusion.SUCCESS
