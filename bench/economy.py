"""API economy: GitHub requests per event on a warm cache, against the fewest that could
answer it, through the real intake and gate task (in process, against the simulator);
and the gatherer's requests on a large pull request (pagination at 100 per page)."""

from __future__ import annotations

import math

from app.simulator.model import RecordedRequest
from bench.inproc import AGENT, REPO, large_pull_request, start_gate
from bench.report import Row

PER_PAGE = 100


def costs(requests: list[RecordedRequest]) -> tuple[int, int]:
    """(requests GitHub counts, free 304s)."""
    free = sum(1 for r in requests if r.status == 304)
    return len(requests) - free, free


def row(figure: str, requests: list[RecordedRequest], minimum: int, target: str) -> Row:
    counted, free = costs(requests)
    return Row(
        "API economy",
        figure,
        f"{counted} (+{free} free 304)",
        f"{minimum} minimum",
        f"{counted / minimum:.2f}",
        target,
    )


def run(files: int, commits: int, reviews: int) -> list[Row]:
    gate = start_gate()
    try:
        sim = gate.simulator
        number = sim.open_pull_request(REPO, author=AGENT, files={"src/a.py": "1\n"})
        opened = gate.deliver("pull_request")
        sim.review(REPO, number, "maintainer", state="CHANGES_REQUESTED")
        first_review = gate.deliver("pull_request_review")
        sim.review(REPO, number, "maintainer")
        review = gate.deliver("pull_request_review")
        sim.push(REPO, number, author=AGENT, files={"src/a.py": "2\n"})
        push = gate.deliver("pull_request")
        sim.label(REPO, number, "ai-generated", sender="maintainer")
        label = gate.deliver("pull_request")
        rows = [
            # Minimums: a new head needs its commits, files and reviews and one write; a
            # review needs the reviews and one write (the pull request is re-read because a
            # review payload's copy lacks the commit and file counts).
            row("pull_request.opened (cold app: token, slug, policy)", opened, 4, ""),
            row("review, reviewer not yet looked up", first_review, 3, ""),
            row("review on an unchanged pull request", review, 2, "<= 3"),
            row("pull_request.synchronize (new push)", push, 4, "<= 4"),
            row("pull_request.labeled", label, 2, ""),
        ]
        _, payload = large_pull_request(gate, files, commits, reviews)
        opened_big = gate.deliver("pull_request", payload)
        minimum = (
            math.ceil(files / PER_PAGE)
            + math.ceil(commits / PER_PAGE)
            + math.ceil(reviews / PER_PAGE)
            + 1
        )
        rows.append(
            row(
                f"large PR opened ({files} files, {commits} commits, {reviews} reviews)",
                opened_big,
                minimum,
                "",
            )
        )
        return rows
    finally:
        gate.close()
