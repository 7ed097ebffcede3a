"""Red team, issue 14: text an agent (or its requester, through it) writes takes a
requester off the excluded list. The design claims text can only add (catalogue.py,
catalogue.yml header, DESIGN invariant 3)."""

from __future__ import annotations

from tests.attacks.harness import (
    AUTHOR,
    REPO,
    Attack,
)

ALICE_TRAILER = "Co-authored-by: alice <4175913+alice@users.noreply.github.com>"


def _claude_pull(attack: Attack, message: str) -> int:
    """A Claude Code Action pull request: commits by claude[bot], the triggering user
    (alice) named in a Co-authored-by trailer, opened by another human (hugo)."""
    return attack.sim.open_pull_request(
        REPO,
        author=AUTHOR,
        head_ref="claude/issue-12-20261129",
        commits=[
            {
                "files": {"src/app.py": "print(2)\n"},
                "author": None,
                "author_identity": (
                    "claude[bot]",
                    "209825114+claude[bot]@users.noreply.github.com",
                ),
                "message": message,
            }
        ],
        title="Fix the login redirect",
    )


def test_control_claude_co_author_requester_is_excluded(seat: Attack):
    number = _claude_pull(seat, f"Fix the login redirect\n\n{ALICE_TRAILER}")
    seat.sim.review(REPO, number, "alice")
    assert seat.check(number).conclusion == "action_required"


def test_fifty_key_value_lines_before_the_trailer_hide_the_requester(seat: Attack):
    """`parse_trailers` keeps the FIRST 50 `Key: value` lines of the whole message; git's
    real trailers are the LAST lines. 50 'Step-N: ...' lines in the message body push the
    requester's Co-authored-by trailer out, and alice's approval counts."""
    steps = "\n".join(f"Step-{i}: adjust redirect handling part {i}" for i in range(50))
    number = _claude_pull(seat, f"Fix the login redirect\n\n{steps}\n\n{ALICE_TRAILER}")
    seat.sim.review(REPO, number, "alice")
    assert seat.check(number).conclusion == "action_required", seat.summary(number)


def test_a_long_co_author_name_hides_the_requester(seat: Attack):
    """`_TRAILER` caps a value at ~300 characters: a Co-authored-by line whose name is
    long (a GitHub display name may be 255 characters) is not read at all."""
    trailer = f"Co-authored-by: {'Alice ' * 50}<4175913+alice@users.noreply.github.com>"
    number = _claude_pull(seat, f"Fix the login redirect\n\n{trailer}")
    seat.sim.review(REPO, number, "alice")
    assert seat.check(number).conclusion == "action_required", seat.summary(number)


def test_two_hundred_remembered_names_push_the_real_requester_out(seat: Attack):
    """`acted.requesters` reads the first MAX_REQUESTERS=200 rows by time. A Devin body
    listing 200 'Requested by: @someone' lines at open fills them; the real requester's
    row comes later, is never read, and once the body no longer names her she approves."""
    seat.sim.add_user("devin-ai-integration[bot]", type="Bot")
    flood = "\n".join(f"Requested by: @stakeholder-{i}" for i in range(200))
    number = seat.sim.open_pull_request(
        REPO,
        author="devin-ai-integration[bot]",
        head_ref="devin/1751421506-fix-login",
        commits=[{"files": {"src/app.py": "print(2)\n"}, "author": "devin-ai-integration[bot]"}],
        body=f"Fixes the redirect.\n\nStakeholders:\n{flood}",
        title="Fix the login redirect",
    )
    seat.sim.edit_body(
        REPO,
        number,
        "Fixes the redirect.\n\nLink to Devin run: https://app.devin.ai/sessions/0f3a\n"
        "Requested by: @alice",
        sender="devin-ai-integration[bot]",
    )
    seat.sim.review(REPO, number, "alice")
    # More names than foureyes remembers: it cannot tell whom Devin works for, and the
    # gate fails closed instead of forgetting anyone.
    assert seat.check(number).conclusion == "failure"
    assert "more than 100 people as the agent's requester" in seat.summary(number)
    seat.sim.edit_body(REPO, number, "Fixes the redirect.", sender="devin-ai-integration[bot]")
    seat.sim.review(REPO, number, "alice")
    assert seat.check(number).conclusion == "failure", seat.summary(number)
