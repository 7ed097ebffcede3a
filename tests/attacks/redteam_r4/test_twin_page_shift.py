"""Red team round 4: the open pull requests are read a page at a time (100 each, newest
first) and nothing checks that the list held still between pages. An agent with more
than 100 open pull requests closes one of the newest while the gate is between page 1
and page 2: its oldest pull request moves up onto page 1, which was already read, and is
on no page the gate reads. That context of the head is missed (invariant 9): the twin's
`success` becomes the shared check of the blocked pull request into main."""

from __future__ import annotations

from typing import Any

import pytest

import app.github.gather as gather
import workers.gate
from tests.attacks.helpers import app_bot
from tests.unit.github.conftest import REPO, Gate

POLICY = """\
version: 1
merge:
  rules:
    - name: human review
      if: {agent: true, base: [main]}
      require: {approvals: 1, permission: write}
"""


def test_a_pull_request_closed_between_pages_hides_the_blocked_twin(
    gate: Gate, monkeypatch: pytest.MonkeyPatch
):
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": POLICY}, pusher="second")
    gate.simulator.add_user("mallory")
    gate.simulator.push_branch(REPO, "scratch", {"notes.md": "x\n"}, pusher="mallory")
    gate.simulator.protect_branch(REPO, "scratch")
    bot = app_bot(gate)
    agents = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/fix", files={"src/pay.py": "steal()\n"}
    )
    gate.deliver("pull_request")
    head = gate.head(agents)
    assert [r.conclusion for r in gate.check_runs(head)] == ["action_required"]

    # 99 more open pull requests (the agent's own), newer than #1: #1 is alone on page 2
    # once the twin is open.
    fillers = [
        gate.simulator.open_pull_request(
            REPO, author=bot, head_ref=f"agents/filler-{i}", files={f"f{i}.txt": "x\n"}
        )
        for i in range(99)
    ]

    listing = {"contexts": False, "closed": False}
    real_get, real_at = gather.conditional_get, workers.gate.open_pulls_at

    def open_pulls_at(*args: Any, **kwargs: Any) -> list[int]:
        listing["contexts"] = True
        try:
            return real_at(*args, **kwargs)
        finally:
            listing["contexts"] = False

    def conditional_get(gh: Any, state: Any, url: str, **kwargs: Any) -> tuple[int, str]:
        answer = real_get(gh, state, url, **kwargs)
        first_page = url.startswith(f"/repos/{REPO}/pulls?state=open") and url.endswith("page=1")
        if first_page and listing["contexts"] and not listing["closed"]:
            listing["closed"] = True  # the agent closes a filler between page 1 and page 2
            gate.simulator.close(REPO, fillers[50], sender=bot)
        return answer

    monkeypatch.setattr(gather, "conditional_get", conditional_get)
    monkeypatch.setattr(workers.gate, "open_pulls_at", open_pulls_at)

    twin = gate.simulator.open_pull_request_from(
        REPO, author="mallory", head_ref="agents/fix", base="scratch"
    )
    assert gate.head(twin) == head
    gate.deliver("pull_request")
    assert listing["closed"]

    runs = gate.check_runs(head)
    assert runs[-1].conclusion != "success", (
        f"#{agents} into main is unapproved, yet the shared check on {head[:7]} is "
        f"`success` ({runs[-1].output['title']}): #{agents} fell between the pages"
    )
