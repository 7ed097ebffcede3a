"""The identity facts of a pull request: who pushed its commits, which agent tokens were
live during its life, who dismissed its reviews, since when its base is what it is, and
whom the catalogue's agents were seen to work for (remembered: never forgotten).

From foureyes' memory of webhooks (`app.acted`), GitHub's own records read now
(`app.github.actors`) and the broker's token records; never from names an agent chose.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from githubkit import GitHub
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import acted
from app.github.actors import (
    assignment_requesters,
    dismissal_events,
    head_pushes,
    issue_events,
)
from app.github.client import parse_time
from app.github.gather import reviewer_facts
from app.identity.models import AgentToken
from app.policy.agents import matched_agents
from app.policy.catalogue import catalogue, requester_candidates
from app.policy.facts import Account, Dismissal, LiveToken, PullRequestFacts, Push
from app.policy.schema import Policy
from app.services import Services

WRITE_PERMISSIONS = ("contents", "pull_requests")  # could push, or open and edit PRs
# For a deployment, which agent tokens count as possibly behind its commits: those live
# this recently (the broker's tokens live an hour at most; the window covers work pushed,
# then deployed days later). A commit nobody is on record as pushing counts as an agent's
# while such a token could push, and such a token's human does not approve the deployment.
RECENT_AGENT_WINDOW = timedelta(days=7)


def with_identity(
    deps: Services,
    gh: GitHub,
    repository: str,
    pull: dict[str, Any],
    facts: PullRequestFacts,
    policy: Policy,
) -> PullRequestFacts:
    """`facts` completed with who acted, as GitHub reported it. A pull request of a
    catalogue agent (under `policy`) whose recipe names whom it assigned or asked to
    review also has GitHub's issue events read (a delivery may have been missed)."""
    now = datetime.now(UTC)
    number = pull["number"]
    head_repo = ((pull["head"].get("repo") or {}).get("full_name") or repository).lower()
    shas = [commit.sha for commit in facts.commits]
    if facts.head_sha not in shas:
        shas.append(facts.head_sha)
    with deps.sessions.begin() as session:
        # A fork's pull request carries commits GitHub keeps in the base repository too:
        # a commit the agent pushed there, offered again from a fork, is still its work.
        pushed = acted.actors(session, head_repo, acted.PUSH, shas)
        if head_repo != repository.lower():
            for sha, found in acted.actors(session, repository, acted.PUSH, shas).items():
                pushed.setdefault(sha, []).extend(found)
        if any(sha not in pushed for sha in shas) and head_repo == repository.lower():
            for push in head_pushes(gh, repository, pull["head"]["ref"], shas):
                acted.record(session, head_repo, acted.PUSH, [push.sha], push.actor, push.at)
                pushed.setdefault(push.sha, []).append((push.actor, push.at))
        opened = parse_time(pull["created_at"]) if pull.get("created_at") else now
        start = min([opened, *(at for found in pushed.values() for _, at in found)])
        tokens = live_tokens(session, repository, head_repo, start, now)
        since, change = base_change(session, repository, number, pull)
        recorded = acted.actors(
            session,
            repository,
            acted.DISMISSAL,
            [f"{number}:{r.id}" for r in facts.reviews if r.state == "DISMISSED"],
        )
    pushes = tuple(Push(sha, actor) for sha in shas for actor, _ in pushed.get(sha, ()))
    dismissed = any(review.state == "DISMISSED" for review in facts.reviews)
    assigning = any(
        {"assigned", "review_requested"} & set(entry.requester)
        for entry in matched_agents(policy, dataclasses.replace(facts, pushes=pushes))
    )
    events = issue_events(gh, deps.state, repository, number) if dismissed or assigning else []
    named = requester_candidates(catalogue().entries, facts)
    if assigning:
        named.extend(assignment_requesters(events))
    with deps.sessions.begin() as session:
        acted.remember_requesters(session, repository, number, named, now)
        requesters = acted.requesters(session, repository, number)
    dismissals = dismissals_of(repository, number, facts, recorded, events)
    reviewers = dict(facts.reviewers)
    for dismissal in dismissals.values():
        for actor in dismissal.actors:
            if not actor.is_bot and actor.login not in reviewers:
                reviewers[actor.login] = reviewer_facts(
                    gh, deps.state, repository, actor.login, frozenset()
                )
    return dataclasses.replace(
        facts,
        pushes=pushes,
        pushers_unknown=tuple(sha for sha in shas if sha not in pushed),
        live_tokens=tokens,
        base_since=since,
        base_change=change,
        dismissals=dismissals,
        reviewers=reviewers,
        requesters=requesters,
    )


def live_tokens(
    session: Session, repository: str, head_repo: str, start: datetime, now: datetime
) -> tuple[LiveToken, ...]:
    """Agent tokens for the repository (or the head's) live at any time from `start` to
    `now` with a permission that could push or open and edit a pull request."""
    names = {repository.lower(), head_repo}
    rows = session.scalars(
        select(AgentToken).where(
            func.lower(AgentToken.repository).in_(sorted(names)),
            AgentToken.created_at <= now,
            AgentToken.revoke_at >= start,
        )
    )
    found = []
    for token in rows:
        end = min(token.revoke_at, token.github_expires_at, token.revoked_at or token.revoke_at)
        writes = {p for p in WRITE_PERMISSIONS if (token.permissions or {}).get(p) == "write"}
        if token.repository.lower() not in names or end < start or not writes:
            continue
        # Either repository: a commit pushed to the base repository can be offered from a
        # fork, so a token that could push there could have written the fork's commits.
        can_push = "contents" in writes
        found.append(LiveToken(token.id, token.agent, token.on_behalf_of, can_push))
    return tuple(sorted(found, key=lambda t: t.token_id))


def base_change(
    session: Session, repository: str, number: int, pull: dict[str, Any]
) -> tuple[datetime | None, str]:
    """Since when the diff's base is what it is now (None: since the pull request opened),
    and in words what changed it: a retarget, or a force push of the base branch."""
    base_ref = pull["base"]["ref"]
    updated = parse_time(pull["updated_at"]) if pull.get("updated_at") else datetime.now(UTC)
    since = acted.base_since(session, repository, pull["number"], base_ref, updated)
    change = f"the base changed to {base_ref}" if since else ""
    ref = f"refs/heads/{base_ref}"
    rewrites = acted.actors(session, repository, acted.FORCE_PUSH, [ref]).get(ref, [])
    if rewrites:
        actor, at = max(rewrites, key=lambda found: found[1])
        if since is None or at > since:
            since, change = at, f"{actor} force-pushed the base branch {base_ref}"
    return since, change


def dismissals_of(
    repository: str,
    number: int,
    facts: PullRequestFacts,
    recorded: dict[str, list[tuple[str, datetime]]],
    events: list[dict[str, Any]],
) -> dict[int, Dismissal]:
    """Who dismissed each dismissed review: the webhooks' senders and GitHub's issue
    events, together (any ineligible one of them voids the dismissal)."""
    dismissed = [review.id for review in facts.reviews if review.state == "DISMISSED"]
    if not dismissed:
        return {}
    dismissed_by = dismissal_events(events)
    found: dict[int, Dismissal] = {}
    for review_id in dismissed:
        actors = {
            login.lower(): Account(login) for login, _ in recorded.get(f"{number}:{review_id}", ())
        }
        actor, state = dismissed_by.get(review_id, (None, None))
        if actor is not None:
            actors[actor.login.lower()] = actor
        found[review_id] = Dismissal(review_id, tuple(actors.values()), state)
    return found
