"""The built-in catalogue of agent signatures (`catalogue.yml`), and matching a pull
request's facts against the entries a policy enables. Pure: the file is package data.

A signal (an author, a branch, a commit identity or trailer, a marker in the body) makes a
pull request agent work; a requester recipe names the human the agent works for, who may
not approve its work. Both only ever add: an agent writing a body or a trailer can put
more people on the excluded list, never take anyone off it, and can make its work count
as agent work, never less.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from app.policy.facts import Commit, PullRequestFacts, Requester
from app.policy.globs import any_match, glob_match

KINDS = ("coding-agent", "dependency-bot")
RECIPES = ("author", "assigned", "review_requested", "co_author", "body")
MAX_TRAILERS = 50
_TRAILER = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]{0,40})\s*:\s*(\S.{0,300}?)\s*$", re.MULTILINE)
_NOREPLY = re.compile(
    r"^(?:\d+\+)?(?P<login>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))@users\.noreply\.github\.com$",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>]+)>$")


@dataclass(frozen=True)
class Source:
    url: str
    checked: str
    says: str


@dataclass(frozen=True, eq=False)
class Entry:
    """One agent or bot, as `catalogue.yml` describes it (each entry exists once, so
    identity is equality: cheap to hash in the caches below)."""

    name: str
    title: str
    kind: str
    logins: tuple[str, ...]
    branches: tuple[str, ...]
    identities: tuple[str, ...]  # git "Name <email>" globs
    trailers: tuple[tuple[str, str], ...]  # (key, value glob); keys case-insensitive
    markers: tuple[str, ...]
    requester: tuple[str, ...]  # recipe names, in RECIPES
    requester_patterns: tuple[re.Pattern[str], ...]
    requester_note: str
    sources: tuple[Source, ...]

    def owns_login(self, login: str) -> bool:
        return any_match(self.logins, login, case_sensitive=False)


@dataclass(frozen=True)
class Catalogue:
    checked: str
    entries: tuple[Entry, ...]

    def names(self) -> tuple[str, ...]:
        return tuple(entry.name for entry in self.entries)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped with this release (read once per process)."""
    text = resources.files("app.policy").joinpath("catalogue.yml").read_text("utf-8")
    return parse_catalogue(text)


def parse_catalogue(text: str) -> Catalogue:
    """Parse and check catalogue YAML; a broken catalogue is a bug, raised as ValueError."""
    data = yaml.safe_load(text)
    entries = []
    seen: set[str] = set()
    for item in data["agents"]:
        name = item["name"]
        if name in seen or name in KINDS:
            raise ValueError(f"catalogue: duplicate or reserved name {name!r}")
        seen.add(name)
        if item["kind"] not in KINDS:
            raise ValueError(f"catalogue: {name}: unknown kind {item['kind']!r}")
        unknown = set(item.get("requester") or ()) - set(RECIPES)
        if unknown:
            raise ValueError(f"catalogue: {name}: unknown requester recipes {sorted(unknown)}")
        patterns = tuple(re.compile(p) for p in item.get("requester_patterns") or ())
        if any("login" not in p.groupindex for p in patterns):
            raise ValueError(f"catalogue: {name}: a requester pattern lacks a login group")
        if patterns and "body" not in (item.get("requester") or ()):
            raise ValueError(f"catalogue: {name}: requester patterns without the body recipe")
        trailers = []
        for trailer in item.get("trailers") or ():
            key, _, value = trailer.partition(":")
            if not value.strip():
                raise ValueError(f"catalogue: {name}: trailer {trailer!r} is not Key: value")
            trailers.append((key.strip(), value.strip()))
        entries.append(
            Entry(
                name=name,
                title=item["title"],
                kind=item["kind"],
                logins=tuple(item.get("logins") or ()),
                branches=tuple(item.get("branches") or ()),
                identities=tuple(item.get("identities") or ()),
                trailers=tuple(trailers),
                markers=tuple(item.get("markers") or ()),
                requester=tuple(item.get("requester") or ()),
                requester_patterns=patterns,
                requester_note=" ".join(str(item.get("requester_note") or "").split()),
                sources=tuple(
                    Source(s["url"], str(s["checked"]), " ".join(str(s.get("says", "")).split()))
                    for s in item.get("sources") or ()
                ),
            )
        )
    return Catalogue(checked=str(data["checked"]), entries=tuple(entries))


@functools.lru_cache(maxsize=256)
def enabled(known: bool | tuple[str, ...]) -> tuple[Entry, ...]:
    """The entries a policy's `agents.known` turns on: all, none, or those named (by
    name or by kind)."""
    entries = catalogue().entries
    if known is True:
        return entries
    if known is False:
        return ()
    wanted = {item.lower() for item in known}
    return tuple(e for e in entries if e.name in wanted or e.kind in wanted)


@functools.lru_cache(maxsize=4096)
def login_owner(entries: tuple[Entry, ...], login: str) -> Entry | None:
    """The enabled entry whose account `login` is, if any (asked for every login the
    gate reads: remembered, as the catalogue and the answers never change)."""
    return next((entry for entry in entries if entry.owns_login(login)), None)


def parse_trailers(message: str) -> tuple[tuple[str, str], ...]:
    """Every `Key: value` line of a commit message (git puts trailers last, but an agent
    may put one anywhere: every such line is read, since a match only adds)."""
    return tuple((m.group(1), m.group(2)) for m in _TRAILER.finditer(message))[:MAX_TRAILERS]


@dataclass(frozen=True)
class Signal:
    entry: Entry
    reason: str


def signals(entries: tuple[Entry, ...], facts: PullRequestFacts) -> tuple[Signal, ...]:
    """Why the pull request is the work of an enabled catalogue entry, each reason naming
    the signal that matched and the agent. Accounts (the author's, a commit's linked
    accounts, a pusher's) are matched where every login is (`app.policy.agents`)."""
    found: list[Signal] = []
    for entry in entries:
        label = f"({entry.title})"
        branch = next((b for b in entry.branches if glob_match(b, facts.head_ref)), None)
        if branch is not None:
            found.append(Signal(entry, f"head branch {facts.head_ref} matches {branch} {label}"))
        marker = _marker_in(entry, facts.body)
        if marker is not None:
            found.append(Signal(entry, f"the pull request body says `{marker}` {label}"))
        for commit in facts.commits:
            found.extend(Signal(entry, f"{why} {label}") for why in _commit_signals(entry, commit))
    return tuple(found)


def _marker_in(entry: Entry, text: str) -> str | None:
    lowered = text.lower()
    return next((m for m in entry.markers if m.lower() in lowered), None)


def _commit_signals(entry: Entry, commit: Commit) -> list[str]:
    sha = commit.sha[:7]
    reasons = []
    for role, identity in (
        ("authored", commit.author_identity),
        ("committed", commit.committer_identity),
    ):
        if identity and any_match(entry.identities, identity, case_sensitive=False):
            reasons.append(f"commit {sha} {role} as `{identity}`")
    for key, value in commit.trailers:
        if any(
            key.lower() == want_key.lower() and glob_match(want, value, case_sensitive=False)
            for want_key, want in entry.trailers
        ):
            reasons.append(f"commit {sha} carries `{key}: {value}`")
    marker = _marker_in(entry, commit.message)
    if marker is not None:
        reasons.append(f"commit {sha} says `{marker}`")
    return reasons


def requester_candidates(entries: tuple[Entry, ...], facts: PullRequestFacts) -> list[Requester]:
    """The requesters the pull request's text names now: co-author trailers with a GitHub
    no-reply e-mail, and body lines matching an enabled entry's pattern. Each with the
    recipe that found it; which recipes count depends on the agent that matched."""
    found: list[Requester] = []
    for commit in facts.commits:
        for key, value in commit.trailers:
            if key.lower() != "co-authored-by":
                continue
            person = _PERSON.match(value)
            login = _NOREPLY.match(person.group("email").strip()) if person else None
            if login is not None and login_owner(entries, login.group("login")) is None:
                found.append(
                    Requester(login.group("login"), "co_author", f"{key}: {value}", commit.sha)
                )
    found.extend(body_requesters(entries, facts.body))
    return found


def body_requesters(entries: tuple[Entry, ...], body: str) -> list[Requester]:
    """The people `body` names as requester, by the entries' patterns."""
    return [
        Requester(match.group("login"), "body", " ".join(match.group(0).split()))
        for entry in entries
        for pattern in entry.requester_patterns
        for match in pattern.finditer(body)
    ]


def webhook_requesters(payload: dict[str, Any]) -> list[Requester]:
    """Requesters a `pull_request` delivery shows, by every entry's recipes (which ones
    count is decided at evaluation, by the agents that matched): whom its sender assigned
    or asked to review (the sender is kept as evidence: only an agent's own act counts),
    everyone assigned or asked to review when its sender opened it, and the body's names."""
    pull = payload.get("pull_request") or {}
    sender = (payload.get("sender") or {}).get("login") or ""
    action = payload.get("action")
    found: list[Requester] = []
    if action == "assigned" and (payload.get("assignee") or {}).get("login"):
        found.append(Requester(payload["assignee"]["login"], "assigned", sender))
    if action == "review_requested" and (payload.get("requested_reviewer") or {}).get("login"):
        found.append(Requester(payload["requested_reviewer"]["login"], "review_requested", sender))
    if action == "opened":
        for user in pull.get("assignees") or ():
            found.append(Requester(user["login"], "assigned", sender))
        for user in pull.get("requested_reviewers") or ():
            found.append(Requester(user["login"], "review_requested", sender))
    found.extend(body_requesters(catalogue().entries, pull.get("body") or ""))
    return found


def counts_for(entry: Entry, requester: Requester) -> bool:
    """Does `requester`, found by some recipe, count as `entry`'s requester? Its recipe
    must be one of the entry's, and an assignment or review request must be the agent's
    own act (a human's or another bot's request names a reviewer, not the requester)."""
    if requester.source not in entry.requester:
        return False
    if requester.source in ("assigned", "review_requested"):
        return entry.owns_login(requester.evidence)
    return True


def describe(requester: Requester, agent: str) -> str:
    """Why `requester` may not approve, in words."""
    how = {
        "assigned": f"{requester.evidence} assigned the pull request to them",
        "review_requested": f"{requester.evidence} requested their review",
        "co_author": f"commit {requester.sha[:7]} carries `{requester.evidence}`",
        "body": f"the pull request body says `{requester.evidence}`",
    }.get(requester.source, requester.evidence)
    return f"is the human {agent} works for ({how})"
