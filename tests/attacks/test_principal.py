"""Issue 13, attack 3: the agent's own human approves.

The token-to-human link was read from the branch name (`agents/<rule>/<token_id>/...`),
which the agent chooses. Pushing outside its prefix, or under another token's prefix,
hid the human it works for, who could then approve its pull request. Every brokered
token acts as this app's bot on GitHub, so ambiguity excludes: every human on whose
behalf a token that could have acted was live during the pull request's life is
excluded from approving. The branch prefix can only add to that set.
"""

from __future__ import annotations

from tests.attacks.harness import (
    MAINTAINER,
    REPO,
    Attack,
)


def agent_pull_request(attack: Attack, branch: str) -> tuple[int, str]:
    """Alice's agent opens a pull request from `branch`, which it names itself."""
    agent = attack.agent("agent:acme/fixer", "alice")
    agent.create_branch(branch, attack.main())
    agent.commit(branch, "src/app.py", "print('patched')\n")
    return agent.open_pull(branch), agent.token_id


def test_the_agents_human_cannot_approve_a_branch_outside_its_prefix(attack: Attack):
    number, token_id = agent_pull_request(attack, "fix-typo")
    attack.sim.review(REPO, number, "alice")

    assert attack.check(number).conclusion == "action_required"
    summary = attack.summary(number)
    assert f"agent token {token_id[:8]}" in summary
    assert "acting for them was live during the pull request's life" in summary
    # Who may unblock says who may not.
    assert "other than the author, committers and alice (agent token" in summary


def test_the_agents_human_cannot_approve_under_another_tokens_prefix(attack: Attack):
    other = attack.agent("agent:acme/helper", "bob")  # bob's agent shows its prefix
    number, _ = agent_pull_request(attack, f"{other.branch_prefix}fix-typo")
    attack.sim.review(REPO, number, "alice")
    attack.sim.review(REPO, number, "bob")

    assert attack.check(number).conclusion == "action_required"
    summary = attack.summary(number)
    assert "alice" in summary and "bob" in summary
    assert "1 more approval" in summary
    # The push under the other token's prefix is flagged too: which token pushed
    # cannot be told while both are live.
    flagged = [e for e in attack.events("push.flagged") if f"{other.token_id[:8]}" in e.reason]
    assert flagged, [e.reason for e in attack.events("push.flagged")]


def test_an_independent_maintainer_still_approves(attack: Attack):
    number, _ = agent_pull_request(attack, "fix-typo")
    attack.sim.review(REPO, number, "alice")
    attack.sim.review(REPO, number, MAINTAINER)

    assert attack.check(number).conclusion == "success"
    assert f"Approved by {MAINTAINER}" in attack.summary(number)
