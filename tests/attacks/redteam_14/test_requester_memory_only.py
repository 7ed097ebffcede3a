"""Red team, issue 14: `assigned` / `review_requested` requesters exist only in foureyes'
memory of webhooks (`acted.from_webhook`). An evaluation never asks GitHub who assigned
the pull request (its assignees, the issue's `assigned` events with their actor). A pull
request the agent assigned before foureyes was installed (the roll-out: agents' pull
requests already open), or whose delivery was lost, has no requester: she approves."""

from __future__ import annotations

from tests.attacks.harness import (
    REPO,
    Attack,
)


def test_a_sweep_requester_assigned_before_foureyes_listened_cannot_approve(seat: Attack):
    apps = list(seat.sim.world.apps.values())
    urls = [app.webhook_url for app in apps]
    for app in apps:  # foureyes is not listening yet (not installed, or an outage)
        app.webhook_url = None
    number = seat.sim.open_pull_request(
        REPO,
        author="sweep-ai[bot]",
        head_ref="sweep/fix-login",
        files={"src/app.py": "print(2)\n"},
        title="Fix the login redirect",
    )
    seat.sim.assign(REPO, number, "alice", sender="sweep-ai[bot]")
    for app, url in zip(apps, urls, strict=True):
        app.webhook_url = url
    with seat.sim.world.lock:
        assert seat.sim.world.repo(REPO).pulls[number].assignees == ["alice"]

    seat.sim.review(REPO, number, "alice")

    assert seat.check(number).conclusion == "action_required", seat.summary(number)
