"""API economy: GitHub requests per event on a warm cache, against the fewest that could
answer it, through the real intake and gate task (in process, against the simulator):
a review and a push with the policy in the repository, only in the org's `.github`
repository, and nowhere (the built-in default); other events; and the gatherer's requests
on a large pull request (pagination at 100 per page)."""

from __future__ import annotations

import math

from app.simulator.model import RecordedRequest
from bench.inproc import AGENT, POLICY, REPO, InProcessGate, large_pull_request, start_gate
from bench.report import Row

PER_PAGE = 100
CONFIGURATIONS = ("repository policy", "org .github policy only", "no policy (built-in)")
# The fewest counted requests: a review changes only the reviews (read them, write the
# check); a push only the head (its commits and files, and the write; the unchanged
# reviews are a free 304). Each evaluation also lists the open pull requests, the other
# contexts of its head (invariant 9), hence the targets.
REVIEW_MINIMUM, REVIEW_TARGET = 2, "<= 3"
PUSH_MINIMUM, PUSH_TARGET = 3, "<= 4"


def costs(requests: list[RecordedRequest]) -> tuple[int, int]:
    """(requests GitHub counts, free 304s)."""
    free = sum(1 for r in requests if r.status == 304)
    return len(requests) - free, free


def row(
    figure: str,
    requests: list[RecordedRequest],
    minimum: int,
    target: str,
    section: str = "API economy",
) -> Row:
    counted, free = costs(requests)
    return Row(
        section,
        figure,
        f"{counted} (+{free} free 304)",
        f"{minimum} minimum",
        f"{counted / minimum:.2f}",
        target,
    )


def configure(gate: InProcessGate, configuration: str) -> None:
    """Move the policy to where `configuration` says (it starts in the repository)."""
    if configuration == CONFIGURATIONS[0]:
        return
    sim = gate.simulator
    if configuration == CONFIGURATIONS[1]:
        sim.add_repo("acme/.github", files={"foureyes.yml": POLICY})
    sim.push_default_branch(REPO, {".github/foureyes.yml": None}, pusher="maintainer")
    gate.deliver("push")


def by_configuration(configuration: str) -> list[Row]:
    """A warm review and a warm push with the policy where `configuration` says."""
    gate = start_gate()
    try:
        configure(gate, configuration)
        sim = gate.simulator
        number = sim.open_pull_request(REPO, author=AGENT, files={"src/a.py": "1\n"})
        gate.deliver("pull_request")
        sim.review(REPO, number, "maintainer", state="CHANGES_REQUESTED")
        gate.deliver("pull_request_review")
        sim.review(REPO, number, "maintainer")
        review = gate.deliver("pull_request_review")
        sim.push(REPO, number, author=AGENT, files={"src/a.py": "2\n"})
        push = gate.deliver("pull_request")
    finally:
        gate.close()
    section = "API economy by policy"
    return [
        row(f"review, {configuration}", review, REVIEW_MINIMUM, REVIEW_TARGET, section),
        row(f"push, {configuration}", push, PUSH_MINIMUM, PUSH_TARGET, section),
    ]


def run(files: int, commits: int, reviews: int) -> list[Row]:
    rows = [r for configuration in CONFIGURATIONS for r in by_configuration(configuration)]
    return rows + other_events(files, commits, reviews)


def other_events(files: int, commits: int, reviews: int) -> list[Row]:
    gate = start_gate()
    try:
        sim = gate.simulator
        number = sim.open_pull_request(REPO, author=AGENT, files={"src/a.py": "1\n"})
        opened = gate.deliver("pull_request")
        sim.review(REPO, number, "maintainer", state="CHANGES_REQUESTED")
        first_review = gate.deliver("pull_request_review")
        sim.label(REPO, number, "ai-generated", sender="maintainer")
        label = gate.deliver("pull_request")
        rows = [
            # Minimums: a new head needs its commits, files and reviews and one write; a
            # review needs the reviews, the reviewer's permission and one write; a label
            # changes only the pull request, which the webhook carries: one write.
            row("pull_request.opened (cold app: token, slug, policy)", opened, 4, ""),
            row("review, reviewer not yet looked up", first_review, 3, ""),
            row("pull_request.labeled", label, 1, ""),
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
