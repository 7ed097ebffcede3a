"""GitHub's own records of who acted: repository activity (pushes) and issue events
(review dismissals, assignments and review requests). Read at evaluation time, so the
gate does not rest on webhook delivery alone; both name the actor GitHub authenticated,
never commit metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from githubkit import GitHub

from app.errors import GoneError
from app.github.client import github_errors, parse_time
from app.github.gather import account, conditional_pages
from app.policy.facts import Account, Requester
from app.state import SharedState

EVENTS_TTL = 3600.0  # a cached page of issue events, for its ETag
ACTIVITY_LIMIT = 100  # the newest pushes of the head branch: enough to find its head's


@dataclass(frozen=True)
class PushActivity:
    sha: str
    actor: str
    at: datetime


def head_pushes(gh: GitHub, repository: str, head_ref: str, shas: list[str]) -> list[PushActivity]:
    """Who pushed which of `shas` (a pull request's commits, oldest first) to `head_ref`,
    from `GET /repos/{owner}/{repo}/activity`. A push moving the branch from `before` to
    `after` brought every listed commit after `before` up to `after`. Where GitHub has
    no such list, nobody is on record (unknown, which the evaluator does not trust)."""
    owner, name = repository.split("/", 1)
    try:
        with github_errors():
            items = gh.rest.repos.list_activities(
                owner, name, ref=f"refs/heads/{head_ref}", per_page=ACTIVITY_LIMIT
            ).json()
    except GoneError:
        return []  # no activity API here (older GHES): the pushers stay unknown
    order = {sha: index for index, sha in enumerate(shas)}
    found: list[PushActivity] = []
    for item in items:
        after, actor = item.get("after"), (item.get("actor") or {}).get("login")
        if after not in order or not actor:
            continue
        start = order[item["before"]] + 1 if item.get("before") in order else 0
        at = parse_time(item["timestamp"])
        found.extend(PushActivity(sha, actor, at) for sha in shas[start : order[after] + 1])
    return found


def issue_events(
    gh: GitHub, state: SharedState, repository: str, number: int
) -> list[dict[str, Any]]:
    """The pull request's issue events, as GitHub recorded them (each names its actor).
    Conditional: read at every evaluation of such a pull request, unchanged they are a
    free 304."""
    path = f"/repos/{repository}/issues/{number}/events"
    return list(conditional_pages(gh, state, path, 10_000, EVENTS_TTL))


def assignment_requesters(events: list[dict[str, Any]]) -> list[Requester]:
    """Whom each `assigned` and `review_requested` event names, with who did it (the
    evidence a catalogue recipe checks: only the agent's own act names its requester)."""
    found: list[Requester] = []
    for item in events:
        actor = (item.get("actor") or {}).get("login") or ""
        if item.get("event") == "assigned" and (item.get("assignee") or {}).get("login"):
            assigner = (item.get("assigner") or {}).get("login") or actor
            found.append(Requester(item["assignee"]["login"], "assigned", assigner))
        reviewer = (item.get("requested_reviewer") or {}).get("login")
        if item.get("event") == "review_requested" and reviewer:
            requester = (item.get("review_requester") or {}).get("login") or actor
            found.append(Requester(reviewer, "review_requested", requester))
    return found


def dismissal_events(events: list[dict[str, Any]]) -> dict[int, tuple[Account | None, str | None]]:
    """Review id -> (who dismissed it, the review's state before) from the pull
    request's `review_dismissed` issue events."""
    found: dict[int, tuple[Account | None, str | None]] = {}
    for item in events:
        dismissed = item.get("dismissed_review") or {}
        if item.get("event") != "review_dismissed" or "review_id" not in dismissed:
            continue
        state = dismissed.get("state")
        found[int(dismissed["review_id"])] = (
            account(item.get("actor")),
            str(state).lower() if state else None,
        )
    return found
