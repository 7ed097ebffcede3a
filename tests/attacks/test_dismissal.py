"""Issue 13, attack 7: the agent dismisses the human's block.

A maintainer requests changes; the agent's token (pull_requests: write) dismisses that
review through the API. A dismissal counts only when GitHub names an eligible human as
the one who dismissed it (the `dismissed` webhook's sender, the `review_dismissed`
issue event's actor); otherwise the block stands, and the check says why.
"""

from __future__ import annotations

from tests.attacks.harness import ADMIN, MAINTAINER, REPO, Agent, Attack


def blocked_by_a_maintainer(attack: Attack) -> tuple[Agent, int, int]:
    agent = attack.agent("agent:acme/fixer", "alice")
    branch = f"{agent.branch_prefix}feature"
    agent.create_branch(branch, attack.main())
    agent.commit(branch, "src/app.py", "print('feature')\n")
    number = agent.open_pull(branch)
    attack.sim.review(REPO, number, ADMIN)  # one approval is there
    review = attack.sim.review(REPO, number, MAINTAINER, state="CHANGES_REQUESTED")
    assert attack.check(number).conclusion == "action_required"
    return agent, number, review


def test_the_agent_dismissing_a_change_request_leaves_the_block_standing(attack: Attack):
    agent, number, review = blocked_by_a_maintainer(attack)

    agent.call("PUT", f"/pulls/{number}/reviews/{review}/dismissals", message="Addressed")

    assert attack.check(number).conclusion == "action_required"
    summary = attack.summary(number)
    assert f"has changes requested by {MAINTAINER}" in summary
    assert f"the dismissal does not count: dismissed by {attack.bot}, who is a bot" in summary


def test_githubs_record_of_the_dismissal_holds_when_its_webhook_was_lost(attack: Attack):
    agent, number, review = blocked_by_a_maintainer(attack)
    with attack.webhooks_lost():
        agent.call("PUT", f"/pulls/{number}/reviews/{review}/dismissals", message="Addressed")
    attack.sim.rerequest_check(REPO, attack.check(number).id, sender=ADMIN)

    assert attack.check(number).conclusion == "action_required"
    assert f"dismissed by {attack.bot}, who is a bot" in attack.summary(number)


def test_a_maintainer_dismissing_the_change_request_lifts_the_block(attack: Attack):
    _, number, review = blocked_by_a_maintainer(attack)

    attack.sim.dismiss_review(REPO, number, review, sender=ADMIN)

    assert attack.check(number).conclusion == "success"
    assert f"Approved by {ADMIN}" in attack.summary(number)
