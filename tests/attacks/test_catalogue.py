"""Issue 14: today's coding agents are gated out of the box, and the human each works for
does not approve its work.

Each catalogue entry's pull request is shaped as that agent's real ones are (account,
branch, git identity, trailers, body), opened on a repository with no policy file, and
judged by foureyes on the local stack: the simulator delivers every webhook over real
HTTP. The requester found by the entry's recipe may not approve; another maintainer may.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from app.policy.catalogue import catalogue
from tests.attacks.harness import (
    ADMIN,
    AUTHOR,
    MAINTAINER,
    REPO,
    Attack,
)

COPILOT_EMAIL = "198982749+Copilot@users.noreply.github.com"


@dataclass
class Shape:
    """A pull request as the agent opens it; `act` runs after it is opened (the agent
    assigning or asking someone to review), `requester` is whom the recipe must find."""

    author: str
    head_ref: str = "fix-typo"
    body: str = ""
    commit: dict[str, Any] = field(default_factory=dict)
    assignees: list[str] = field(default_factory=list)
    act: str = ""
    requester: str | None = None


SHAPES = {
    "copilot": Shape(
        author="Copilot",
        head_ref="copilot/fix-login-redirect",
        commit={
            "author": "Copilot",
            "author_identity": ("copilot-swe-agent[bot]", COPILOT_EMAIL),
            "message": "Fix the login redirect\n\n"
            "Co-authored-by: alice <4175913+alice@users.noreply.github.com>",
        },
        assignees=["alice"],
        requester="alice",
    ),
    "codex": Shape(
        author=AUTHOR,
        head_ref="codex/fix-login-redirect",
        body="## Summary\n- fix\n\n------\nhttps://chatgpt.com/codex/tasks/task_e_68521a6b",
    ),
    "devin": Shape(
        author="devin-ai-integration[bot]",
        head_ref="devin/1751421506-fix-login",
        body="Fixes the redirect.\n\nLink to Devin run: https://app.devin.ai/sessions/0f3a\n"
        "Requested by: @alice",
        commit={
            "author": "devin-ai-integration[bot]",
            "author_identity": (
                "Devin AI",
                "158243242+devin-ai-integration[bot]@users.noreply.github.com",
            ),
        },
        requester="alice",
    ),
    "claude": Shape(
        author=AUTHOR,
        commit={
            "author": AUTHOR,
            "message": "Fix the login redirect\n\n"
            "Generated with [Claude Code](https://claude.ai/code)\n\n"
            "Co-Authored-By: Claude <noreply@anthropic.com>",
        },
    ),
    "jules": Shape(
        author="google-labs-jules[bot]",
        head_ref="fix-login-redirect-12113509405239491144",
        body="Fixes the redirect.\n\n---\n*PR created automatically by Jules for task"
        " [1211](https://jules.google.com/task/1211) started by @alice*",
        requester="alice",
    ),
    "cursor": Shape(
        author=AUTHOR,
        head_ref="cursor/fix-login-redirect-8624",
        commit={"author": None, "author_identity": ("Cursor Agent", "cursoragent@cursor.com")},
    ),
    "amazon-q": Shape(author="amazon-q-developer[bot]", act="assign alice", requester="alice"),
    "openhands": Shape(
        author="openhands-agent",
        head_ref="openhands-fix-issue-12",
        commit={"author": None, "author_identity": ("openhands", "openhands@all-hands.dev")},
        act="request alice",
        requester="alice",
    ),
    "sweep": Shape(
        author="sweep-ai[bot]", head_ref="sweep/fix-login", act="assign alice", requester="alice"
    ),
    "aider": Shape(
        author=AUTHOR,
        commit={
            "author": AUTHOR,
            "message": "fix: login redirect\n\n"
            "Co-authored-by: aider (anthropic/claude-sonnet-4) <aider@aider.chat>",
        },
    ),
    "dependabot": Shape(
        author="dependabot[bot]",
        head_ref="dependabot/pip/requests-2.32.4",
        commit={
            "author": "dependabot[bot]",
            "message": "Bump requests\n\nSigned-off-by: dependabot[bot] <support@github.com>",
        },
    ),
    "renovate": Shape(author="renovate[bot]", head_ref="renovate/requests-2.x"),
}


def open_shaped(attack: Attack, name: str) -> int:
    shape = SHAPES[name]
    for login in (shape.author, shape.commit.get("author")):
        if login and login[0].isupper():
            attack.sim.add_user(login, type="Bot")  # GitHub shows Copilot as a Bot
    commit = {"files": {"src/app.py": "print(2)\n"}, "author": shape.author, **shape.commit}
    number = attack.sim.open_pull_request(
        REPO,
        author=shape.author,
        head_ref=shape.head_ref,
        commits=[commit],
        body=shape.body,
        title="Fix the login redirect",
        assignees=shape.assignees,
    )
    verb, _, login = shape.act.partition(" ")
    if verb == "assign":
        attack.sim.assign(REPO, number, login, sender=shape.author)
    elif verb == "request":
        attack.sim.request_review(REPO, number, login, sender=shape.author)
    return number


def test_every_catalogue_entry_has_a_shaped_pull_request():
    assert set(SHAPES) == set(catalogue().names())


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_agent_is_gated_by_default_and_its_requester_does_not_approve(seat: Attack, name: str):
    entry = next(e for e in catalogue().entries if e.name == name)
    number = open_shaped(seat, name)

    assert seat.check(number).conclusion == "action_required"
    summary = seat.summary(number)
    assert f"({entry.title})" in summary or f"is {entry.title}'s account" in summary, summary

    requester = SHAPES[name].requester
    if requester is not None:
        seat.sim.review(REPO, number, requester)
        assert seat.check(number).conclusion == "action_required"
        assert f"{requester} is the human {entry.title} works for" in seat.summary(number)
    seat.sim.review(REPO, number, MAINTAINER)
    assert seat.check(number).conclusion == "success", seat.summary(number)


def test_a_human_pull_request_with_no_signal_needs_no_gate(seat: Attack):
    number = seat.sim.open_pull_request(
        REPO, author=AUTHOR, head_ref="fix-typo", files={"src/app.py": "print(3)\n"}
    )
    assert seat.check(number).conclusion == "success"
    assert seat.check(number).output["title"] == "No agent involvement: no gate needed"


def test_a_devin_requester_stays_excluded_after_the_body_is_edited(seat: Attack):
    number = open_shaped(seat, "devin")
    seat.sim.edit_body(REPO, number, "Fixes the redirect.", sender="devin-ai-integration[bot]")
    seat.sim.review(REPO, number, "alice")

    assert seat.check(number).conclusion == "action_required"
    assert "alice is the human Devin works for" in seat.summary(number)


def test_a_copilot_requester_stays_excluded_after_being_unassigned(seat: Attack):
    number = open_shaped(seat, "copilot")
    seat.sim.unassign(REPO, number, "alice", sender="Copilot")
    seat.sim.review(REPO, number, "alice")

    assert seat.check(number).conclusion == "action_required"


def test_a_maintainer_asked_to_review_by_a_human_is_not_taken_for_the_requester(seat: Attack):
    number = open_shaped(seat, "sweep")
    seat.sim.assign(REPO, number, MAINTAINER, sender=ADMIN)
    seat.sim.review(REPO, number, MAINTAINER)

    assert seat.check(number).conclusion == "success", seat.summary(number)


def test_text_the_agent_writes_can_only_add_people_to_the_excluded(seat: Attack):
    number = open_shaped(seat, "devin")
    seat.sim.edit_body(
        REPO,
        number,
        "Requested by: @alice\nRequested by: @maria",
        sender="devin-ai-integration[bot]",
    )
    seat.sim.review(REPO, number, MAINTAINER)
    assert seat.check(number).conclusion == "action_required"
    seat.sim.review(REPO, number, "bob")
    assert seat.check(number).conclusion == "success"


def test_a_policy_can_turn_the_catalogue_off_or_narrow_it(seat: Attack):
    seat.sim.push_default_branch(
        REPO,
        {".github/foureyes.yml": "version: 1\nagents:\n  known: [coding-agent]\n"},
        pusher=ADMIN,
        message="Gate coding agents only",
    )
    bot = open_shaped(seat, "dependabot")
    agent = open_shaped(seat, "codex")

    assert seat.check(bot).conclusion == "success"
    assert seat.check(agent).conclusion == "action_required"
