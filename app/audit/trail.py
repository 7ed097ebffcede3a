"""A readable timeline of what an agent (or a repository, or a pull request) did and who
let it: tokens, pushes, pull requests, evaluations, approvals, merges, deployments and
escalations, linked by the token, subject and agent they share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.chain import format_ts
from app.audit.models import AuditEvent

HASH_PREFIX = 12
IN_CHUNK = 500


def _select(session: Session, *conditions: Any, since: datetime | None) -> list[AuditEvent]:
    query = select(AuditEvent).where(*conditions).order_by(AuditEvent.seq)
    if since is not None:
        query = query.where(AuditEvent.ts >= format_ts(since))
    return list(session.scalars(query))


def _by_subjects(
    session: Session, subjects: Iterable[str], since: datetime | None
) -> list[AuditEvent]:
    names = sorted(set(subjects))
    found: list[AuditEvent] = []
    for start in range(0, len(names), IN_CHUNK):
        chunk = names[start : start + IN_CHUNK]
        found += _select(session, AuditEvent.subject.in_(chunk), since=since)
    return found


def token_ids(events: Iterable[AuditEvent]) -> set[str]:
    return {str(e.data["token_id"]) for e in events if e.data.get("token_id")}


def gather(
    session: Session,
    *,
    agent: str | None = None,
    repository: str | None = None,
    pr: int | None = None,
    since: datetime | None = None,
) -> list[AuditEvent]:
    """The events of the trail, in seq order: those matching the filter, then the events
    that share a subject with them, and the tokens they name."""
    if pr is not None and repository is None:
        raise ValueError("--pr needs --repo")
    if agent is not None:
        base = _select(session, AuditEvent.agent == agent, since=since)
        subjects = {e.subject for e in base if "#" in e.subject}
    elif repository is not None and pr is not None:
        base = _select(session, AuditEvent.subject == f"{repository}#{pr}", since=since)
        subjects = set()
    elif repository is not None:
        base = _select(session, AuditEvent.repository == repository, since=since)
        subjects = set()
    elif since is not None:
        return _select(session, since=since)
    else:
        raise ValueError("give --agent, --repo or --since")
    found = {e.seq: e for e in base}
    found.update((e.seq, e) for e in _by_subjects(session, subjects, since))
    # The pushes of the commits that were evaluated.
    commits = {
        f"{e.repository}@{e.data['head_sha']}"
        for e in found.values()
        if e.repository and e.data.get("head_sha")
    }
    found.update((e.seq, e) for e in _by_subjects(session, commits, since))
    tokens = token_ids(found.values())
    found.update((e.seq, e) for e in _by_subjects(session, {f"token:{t}" for t in tokens}, None))
    return [found[seq] for seq in sorted(found)]


def approvals(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(counted, ignored) approvals anywhere in a Result.to_dict() tree, without repeats."""
    seen: set[tuple[str, bool, str]] = set()
    counted: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = []
    stack = [result.get("root") or {}]
    while stack:
        node = stack.pop()
        for item in node.get("approvals") or ():
            mark = (item.get("login", "?"), bool(item.get("counted")), item.get("reason", ""))
            if mark not in seen:
                seen.add(mark)
                (counted if mark[1] else ignored).append(item)
        stack.extend(reversed(node.get("children") or ()))
    return counted, ignored


def _permissions(permissions: Any) -> str:
    if isinstance(permissions, dict):
        return ", ".join(f"{name}:{level}" for name, level in sorted(permissions.items()))
    return str(permissions)


# Events an agent causes itself: their `actor` is the human it works for, not who acted.
AGENT_ACTS = frozenset({"token.issued", "token.denied", "escalation.requested"})


def describe(event: AuditEvent) -> list[str]:
    """What happened, in words: the first line, then detail lines. The sentence names who
    acted and, for an agent, the human it acts for: `agent X (for alice) token denied`."""
    data = event.data or {}
    if event.type in AGENT_ACTS and event.agent:
        principal = event.actor or data.get("on_behalf_of")
        who = f" by agent {event.agent}" + (f" (for {principal})" if principal else "")
    else:
        who = f" by {event.actor}" if event.actor else ""
    if event.type == "token.issued":
        lines = [
            f"token {data.get('token_id')} issued to {event.agent or '?'}"
            + (f" on behalf of {data['on_behalf_of']}" if data.get("on_behalf_of") else ""),
            f"sha256 {str(data.get('token_sha256', ''))[:HASH_PREFIX]}…, "
            f"{_permissions(data.get('permissions'))}, ttl {data.get('ttl')}s",
        ]
        if data.get("rule") or data.get("branch_prefix"):
            lines.append(f"rule {data.get('rule')!r}, branches {data.get('branch_prefix')}")
        return lines
    if event.type == "webhook.received":
        action = f".{data['action']}" if data.get("action") else ""
        sender = data.get("sender") or event.actor or "?"
        merged = " (merged)" if data.get("merged") else ""
        ignored = f", ignored: {event.reason}" if event.decision == "ignored" else ""
        return [
            f"{data.get('event', '?')}{action}{merged} from {sender} "
            f"(delivery {data.get('delivery')}){ignored}"
        ]
    if event.type == "gate.evaluated":
        result = data.get("result") or {}
        lines = [
            f"evaluated: {data.get('conclusion') or event.decision} at head "
            f"{str(data.get('head_sha', ''))[:7]}"
            + (f" — {result['title']}" if result.get("title") else "")
        ]
        counted, ignored = approvals(result)
        lines += [f"approval counted: {a.get('login')} ({a.get('reason')})" for a in counted]
        lines += [f"approval ignored: {a.get('login')} ({a.get('reason')})" for a in ignored]
        return lines
    first = event.type.replace(".", " ") + who
    if event.decision:
        first += f": {event.decision}"
    lines = [first]
    if event.reason:
        lines.append(f"reason: {event.reason}")
    if data.get("permissions"):
        lines.append(f"permissions: {_permissions(data['permissions'])}")
    return lines


def links(events: list[AuditEvent]) -> dict[int, list[str]]:
    """For each event, the earlier events it follows from: the token it used, and the
    previous event (of another type) about the same subject."""
    issued: dict[str, int] = {}
    last_on_subject: dict[str, AuditEvent] = {}
    last_evaluation: dict[str, AuditEvent] = {}
    found: dict[int, list[str]] = {}
    for event in events:
        notes = []
        token_id = (event.data or {}).get("token_id")
        if token_id and event.type != "token.issued" and str(token_id) in issued:
            notes.append(f"token {token_id} (#{issued[str(token_id)]})")
        evaluation = last_evaluation.get(event.subject)
        if evaluation is not None and event.type != "gate.evaluated":
            notes.append(_evaluation_note(evaluation))
        previous = last_on_subject.get(event.subject)
        if previous is not None and previous.type != event.type and previous is not evaluation:
            notes.append(f"after #{previous.seq} {previous.type}")
        if event.type == "token.issued" and token_id:
            issued[str(token_id)] = event.seq
        if event.type == "gate.evaluated":
            last_evaluation[event.subject] = event
        last_on_subject[event.subject] = event
        found[event.seq] = notes
    return found


def _evaluation_note(evaluation: AuditEvent) -> str:
    """`last evaluation #7: success, approved by bob` (which approvals let it through)."""
    data = evaluation.data or {}
    note = f"last evaluation #{evaluation.seq}: {data.get('conclusion') or evaluation.decision}"
    counted, _ = approvals(data.get("result") or {})
    if counted:
        note += ", approved by " + ", ".join(str(a.get("login")) for a in counted)
    return note


def summary(events: list[AuditEvent]) -> str:
    """Events by type, and the approvals: each (subject, reviewer, verdict) once, though
    every later evaluation of the pull request lists it again."""
    counts: dict[str, int] = {}
    seen: set[tuple[str, str, bool]] = set()
    for event in events:
        counts[event.type] = counts.get(event.type, 0) + 1
        if event.type == "gate.evaluated":
            counted, ignored = approvals((event.data or {}).get("result") or {})
            for item, was_counted in [(a, True) for a in counted] + [(a, False) for a in ignored]:
                seen.add((event.subject, str(item.get("login")), was_counted))
    counts["approvals counted"] = sum(1 for _, _, was_counted in seen if was_counted)
    counts["approvals ignored"] = sum(1 for _, _, was_counted in seen if not was_counted)
    if not counts["approvals counted"] and not counts["approvals ignored"]:
        del counts["approvals counted"], counts["approvals ignored"]
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def render(events: list[AuditEvent], title: str) -> str:
    """The timeline as text: one block per event, its links, and a closing count."""
    out = [f"audit trail: {title} ({len(events)} events)"]
    linked = links(events)
    for event in events:
        head, *details = describe(event)
        out.append(f"#{event.seq:<6} {event.ts[:19]}Z  {event.type:<22} {event.subject}")
        out.append(f"         {head}")
        out += [f"         {line}" for line in details]
        if event.agent and event.type != "token.issued":
            out.append(f"         agent: {event.agent}")
        if linked[event.seq]:
            out.append(f"         ↳ {'; '.join(linked[event.seq])}")
    if events:
        out.append(f"totals: {summary(events)}")
    return "\n".join(out)
