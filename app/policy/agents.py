"""Does a pull request count as agent work, and why? Pure: facts and policy in, reasons out."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from app.policy.catalogue import (
    Entry,
    Signal,
    counts_for,
    describe,
    enabled,
    login_owner,
    requester_candidates,
    signals,
)
from app.policy.facts import Account, PullRequestFacts
from app.policy.globs import any_match, login_match
from app.policy.schema import Policy

T = TypeVar("T")

INCOMPLETE_REASON = (
    "the commit or file list could not be read completely: agent involvement cannot be ruled out"
)


def _last_answer(
    function: Callable[[Policy, PullRequestFacts], T],
) -> Callable[[Policy, PullRequestFacts], T]:
    """Keep `function`'s last answer for the same policy and facts objects: an evaluation
    asks again for every review. Holding the objects keeps their ids from being reused."""
    last: list[Any] = []

    @functools.wraps(function)
    def answer(policy: Policy, facts: PullRequestFacts) -> T:
        held = last
        if held and held[0] is policy and held[1] is facts:
            return held[2]
        found = function(policy, facts)
        last[:] = [policy, facts, found]
        return found

    return answer


def is_agent_login(policy: Policy, facts: PullRequestFacts, login: str) -> bool:
    """Is `login` this app's own bot or does it match `agents.logins`?"""
    return _agent_match(policy, facts, login) is not None


def _agent_match(policy: Policy, facts: PullRequestFacts, login: str) -> str | None:
    """Which rule makes `login` an agent, in words, or None."""
    if login.lower() == facts.app_bot_login.lower():
        return "is this app's bot"
    if any(login_match(pattern, login) for pattern in policy.agents.logins):
        return "matches agents.logins"
    entry = login_owner(known_agents(policy), login)
    if entry is not None:
        return f"is {entry.title}'s account (agent catalogue)"
    return None


def known_agents(policy: Policy) -> tuple[Entry, ...]:
    """The catalogue entries the policy's `agents.known` turns on."""
    return enabled(policy.agents.known)


def catalogue_signals(policy: Policy, facts: PullRequestFacts) -> tuple[Signal, ...]:
    """The enabled catalogue entries' signals in the pull request (branch, commit
    identities and trailers, markers), each naming the agent."""
    return signals(known_agents(policy), facts)


@_last_answer
def matched_agents(policy: Policy, facts: PullRequestFacts) -> tuple[Entry, ...]:
    """The enabled catalogue entries whose work the pull request shows: by a signal, or
    by an account (author, a commit's linked author or committer, a pusher)."""
    entries = known_agents(policy)
    logins = [facts.author.login, *(push.actor for push in facts.pushes)]
    for commit in facts.commits:
        logins.extend(a.login for a in (commit.author, commit.committer) if a is not None)
    found = {signal.entry.name for signal in signals(entries, facts)}
    found.update(entry.name for login in logins if (entry := login_owner(entries, login)))
    return tuple(entry for entry in entries if entry.name in found)


def agent_involvement(policy: Policy, facts: PullRequestFacts) -> tuple[str, ...]:
    """The reasons the pull request counts as agent work; empty means none.

    Sources: the author, the head branch, the labels, every commit's author and
    committer, who pushed each commit as GitHub reported it, the token broker's link
    to an agent branch, and the catalogue's signals (commit identities and trailers,
    markers in the body). When the facts are
    incomplete (`facts.complete` is False) `INCOMPLETE_REASON` is among the reasons:
    a commit we could not read may be an agent's, so the pull request is treated as
    agent work (fail closed).
    """
    reasons: list[str] = []
    why = _agent_match(policy, facts, facts.author.login)
    if why:
        reasons.append(f"author {facts.author.login} {why}")
    if any_match(policy.agents.branches, facts.head_ref):
        reasons.append(f"head branch {facts.head_ref} matches agents.branches")
    for label in facts.labels:
        if any_match(policy.agents.labels, label, case_sensitive=False):
            reasons.append(f"label {label} matches agents.labels")
    for commit in facts.commits:
        reasons.extend(_commit_reasons(policy, facts, commit.sha, commit.author, commit.committer))
    reasons.extend(pusher_reasons(policy, facts))
    reasons.extend(signal.reason for signal in catalogue_signals(policy, facts))
    if facts.agent_link is not None:
        reasons.append(
            f"head branch {facts.head_ref} was pushed with agent token {facts.agent_link.token_id}"
            f" ({facts.agent_link.agent})"
        )
    if not facts.complete:
        reasons.append(INCOMPLETE_REASON)
    return tuple(dict.fromkeys(reasons))


def _commit_reasons(
    policy: Policy,
    facts: PullRequestFacts,
    sha: str,
    author: Account | None,
    committer: Account | None,
) -> list[str]:
    reasons = []
    for role, account in (("authored", author), ("committed", committer)):
        if account is not None and _agent_match(policy, facts, account.login):
            reasons.append(f"commit {sha[:7]} {role} by {account.login}")
    return reasons


def pusher_reasons(policy: Policy, facts: PullRequestFacts) -> list[str]:
    """Commits an agent identity pushed (GitHub's pusher, not the commit's metadata), and
    commits nobody is on record as pushing while an agent token that could push was live."""
    reasons = []
    for push in facts.pushes:
        why = _agent_match(policy, facts, push.actor)
        if why:
            reasons.append(f"commit {push.sha[:7]} was pushed by {push.actor}, who {why}")
    pushers = [token.token_id[:8] for token in facts.live_tokens if token.can_push]
    unknown = facts.pushers_unknown
    if unknown and pushers:
        shown = ", ".join(sha[:7] for sha in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        reasons.append(
            f"GitHub did not say who pushed commit{'s' if len(unknown) > 1 else ''} {shown},"
            " and agent token"
            f"{'s' if len(pushers) > 1 else ''} {', '.join(pushers)} with contents: write"
            f" {'were' if len(pushers) > 1 else 'was'} live: an agent may have pushed"
        )
    return reasons


@_last_answer
def agent_requesters(policy: Policy, facts: PullRequestFacts) -> Mapping[str, tuple[str, str]]:
    """The humans the matched catalogue agents work for (lower-cased login -> (login,
    why)), by each agent's recipes: remembered ones (`facts.requesters`) and those the
    text names now. An agent account is never a requester."""
    entries = known_agents(policy)
    candidates = [*facts.requesters, *requester_candidates(entries, facts)]
    found: dict[str, tuple[str, str]] = {}
    for entry in matched_agents(policy, facts):
        for person in candidates:
            if not counts_for(entry, person):
                continue
            if _agent_match(policy, facts, person.login) is None:
                why = describe(person, entry.title)
                found.setdefault(person.login.lower(), (person.login, why))
    return MappingProxyType(found)


def requester_notes(policy: Policy, facts: PullRequestFacts) -> list[str]:
    """For the summary: whom each matched agent works for, or that its recipe found nobody."""
    found = agent_requesters(policy, facts)
    notes = [f"{login} {why}: may not approve" for login, why in found.values()]
    for entry in matched_agents(policy, facts):
        recipes = set(entry.requester) - {"author"}
        if not entry.requester:
            notes.append(f"{entry.title}: automation, nobody asked for the change")
        elif not recipes:
            notes.append(
                f"{entry.title} works for the pull request's author, {facts.author.login}"
                " (who may not approve it)"
            )
        elif not any(entry.title in why for _, why in found.values()):
            notes.append(f"{entry.title}: no requester found. {entry.requester_note}")
    return notes
