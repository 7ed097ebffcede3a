"""What GitHub remembers about who did what: repository activity and issue events.

`GET /repos/{owner}/{repo}/activity` lists pushes, branch creations, force pushes and
merges with the actor who made them; `GET /repos/{owner}/{repo}/issues/{n}/events`
lists, among others, review dismissals with their actor and the dismissed review's
state. Both are server-side records: nothing the actor chose (branch names, commit
e-mails) is in them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.simulator.model import Repo
from app.simulator.world import World

ZERO = "0" * 40


@dataclass
class Activity:
    id: int
    repo: str  # full name, lower case
    before: str
    after: str
    ref: str  # refs/heads/...
    actor: str
    activity_type: str  # push | force_push | branch_creation | branch_deletion | pr_merge
    timestamp: datetime


@dataclass
class IssueEvent:
    id: int
    repo: str
    number: int
    event: str  # review_dismissed, ...: what happened
    actor: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class HistoryState:
    activities: list[Activity] = field(default_factory=list)
    issue_events: list[IssueEvent] = field(default_factory=list)


_STATES: weakref.WeakKeyDictionary[World, HistoryState] = weakref.WeakKeyDictionary()


def history(world: World) -> HistoryState:
    """The history of `world`, created on first use."""
    with world.lock:
        state = _STATES.get(world)
        if state is None:
            state = _STATES[world] = HistoryState()
        return state


def record_push(
    world: World,
    repo: Repo,
    branch: str,
    before: str | None,
    after: str,
    actor: str,
    *,
    forced: bool = False,
    merge: bool = False,
) -> Activity:
    """Remember a change of `branch` from `before` (None: created) to `after` by `actor`."""
    with world.lock:
        kind = "pr_merge" if merge else "force_push" if forced else "push"
        if before is None:
            kind = "branch_creation"
        activity = Activity(
            id=world.next_id(),
            repo=repo.full_name.lower(),
            before=before or ZERO,
            after=after,
            ref=f"refs/heads/{branch}",
            actor=actor,
            activity_type=kind,
            timestamp=world.now(),
        )
        history(world).activities.append(activity)
        return activity


def record_issue_event(
    world: World, repo: Repo, number: int, event: str, actor: str, **data: Any
) -> IssueEvent:
    with world.lock:
        item = IssueEvent(
            id=world.next_id(),
            repo=repo.full_name.lower(),
            number=number,
            event=event,
            actor=actor,
            created_at=world.now(),
            data=data,
        )
        history(world).issue_events.append(item)
        return item
