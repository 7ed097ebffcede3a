"""Red team, issue 14: quadratic regexes over text the agent writes (commit messages,
pull request bodies) stall the evaluation worker.

Speed is not asserted here (benchmarks measure it): each input is as large as foureyes
reads (64 KiB), where the quadratic patterns took minutes; the linear ones take
milliseconds, so a regression shows as a test that hangs, and each test checks the
answer on the pathological input."""

from __future__ import annotations

from app.github.gather import commit_facts
from app.policy.catalogue import webhook_requesters


def _commit(message: str) -> dict:
    person = {"name": "Claude", "email": "noreply@anthropic.com"}
    return {
        "sha": "a" * 40,
        "author": None,
        "committer": None,
        "commit": {"message": message, "author": person, "committer": person},
    }


def test_a_commit_message_of_blank_lines_is_parsed_in_linear_time():
    """`_TRAILER` starts `^\\s*` under MULTILINE: `\\s` eats newlines, so from each of N
    line starts it scans to the end and backtracks: O(N^2). 12 000 blank lines (24 kB)
    take seconds; a 1 MB message, hours; per commit, for up to 250 commits, at every
    evaluation (gather.commit_facts reads the whole message)."""
    message = "Fix\n" + " \n" * 32_000 + "Co-authored-by: A <1+alice@users.noreply.github.com>"
    parsed = commit_facts(_commit(message))
    assert parsed.trailers == (("Co-authored-by", "A <1+alice@users.noreply.github.com>"),)


def test_a_jules_body_is_parsed_in_linear_time():
    """Jules' requester pattern `jules\\.google\\.com/task/[^\\n]*?started by...` scans to
    the end of the line from each occurrence: a one-line 64 kB body repeating the prefix
    costs seconds of CPU in the webhook worker (every pull_request delivery) and again
    in every evaluation (requester_candidates)."""
    payload = {
        "action": "edited",
        "sender": {"login": "google-labs-jules[bot]"},
        "pull_request": {"number": 1, "body": "jules.google.com/task/" * 2900 + " started by @bob"},
    }
    assert [(r.login, r.source) for r in webhook_requesters(payload)] == [("bob", "body")]


def test_a_body_of_blank_lines_is_parsed_in_linear_time():
    """Devin's pattern starts `(?im)^\\W*`: `\\W` matches newlines, so from each line start
    it runs to the end of a blank body and backtracks: O(N^2). 12 000 newlines take
    seconds; GitHub's 65 536-character body, ~2.5 minutes of CPU in the webhook worker
    (`acted.from_webhook`, every pull_request delivery: each `edited` again) and as much
    in the evaluation (`who_acted` -> requester_candidates)."""
    payload = {
        "action": "edited",
        "sender": {"login": "devin-ai-integration[bot]"},
        "pull_request": {"number": 1, "body": "\n" * 65_000 + "Requested by: @alice"},
    }
    assert [(r.login, r.source) for r in webhook_requesters(payload)] == [("alice", "body")]
