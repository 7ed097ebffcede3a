"""`/foureyes approve <digest>` and `/foureyes deny` on an escalation issue foureyes opened.

Called by the webhook router for `issue_comment.created`. Edits, bots, other issues and
other comments are ignored; only an eligible human decides, with the permission checked
against GitHub now, never the requester's human, never a bot or a login the policy names
as an agent. An approval binds to the request foureyes stores (`app.identity.binding`):
it names the request's digest, and an issue edited since foureyes opened it voids the
request (`issues.edited` voids it at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from githubkit import GitHub
from sqlalchemy import func, select, update

from app.audit.emit import emit
from app.github import issues
from app.github.gather import reviewer_facts
from app.identity.binding import (
    COMMAND,
    EDITED,
    Refusal,
    approval_refusal,
    pending_for_edited_issue,
)
from app.identity.escalation import binding
from app.identity.models import Escalation
from app.policy.facts import permission_at_least
from app.policy.globs import login_match
from app.policy.permissions import floor_violation
from app.policy.schema import Approvers
from app.services import Services

log = structlog.get_logger()


def command_of(body: str | None) -> tuple[str, str | None] | None:
    """(`approve` or `deny`, the digest named or None) when the comment's first line is
    the command, else None."""
    lines = [line.strip() for line in (body or "").strip().splitlines()]
    match = COMMAND.match(lines[0]) if lines else None
    return (match.group(1).lower(), match.group(2)) if match else None


@dataclass(frozen=True)
class Command:
    """A `/foureyes approve|deny` comment by a human on an issue (not a pull request)."""

    login: str
    command: str
    repository: str
    issue_number: int
    digest: str | None = None  # the request digest the comment names


def parse_command(payload: dict[str, Any]) -> Command | None:
    """The command an `issue_comment.created` delivery carries; None for anything else
    (edits, bots, pull-request comments, other text)."""
    if payload.get("action") != "created":
        return None
    comment = payload.get("comment") or {}
    user = comment.get("user") or {}
    login = user.get("login") or ""
    if not login or user.get("type") != "User" or login.lower().endswith("[bot]"):
        return None
    issue = payload.get("issue") or {}
    said = command_of(comment.get("body"))
    repository = (payload.get("repository") or {}).get("full_name")
    number = issue.get("number")
    if issue.get("pull_request") or said is None or not repository:
        return None
    if not isinstance(number, int):
        return None
    return Command(login, said[0], repository, number, said[1])


def handle_issue_comment(payload: dict[str, Any], deps: Services) -> None:
    said = parse_command(payload)
    if said is None:
        return
    login, command, repository = said.login, said.command, said.repository
    with deps.sessions() as session:
        escalation = session.scalars(
            select(Escalation).where(
                # Case-insensitive: the escalation keeps the agent's spelling of the name.
                func.lower(Escalation.repository) == repository.lower(),
                Escalation.issue_number == said.issue_number,
            )
        ).first()
        if escalation is None or escalation.status != "pending":
            return
        session.expunge(escalation)
    structlog.contextvars.bind_contextvars(escalation=escalation.id, commenter=login)
    gh = deps.github.for_installation(escalation.installation_id)
    now = datetime.now(UTC)
    if escalation.expires_at <= now:
        _settle(deps, gh, escalation, "expired", None, now)
        return
    refusal = ineligible(deps, gh, escalation, login)
    if refusal:
        log.info("escalation.ineligible", reason=refusal)
        issues.comment(
            gh,
            escalation.repository,
            escalation.issue_number,
            f"@{login}: {refusal}. This escalation is still pending.",
        )
        return
    if command == "approve":
        unbound = approval_unbound(gh, escalation, said.digest)
        if unbound is not None and unbound.void:
            log.warning("escalation.void", reason=unbound.reason)
            _settle(deps, gh, escalation, "denied", None, now, why=unbound.reason)
            return
        if unbound is not None:
            log.info("escalation.unbound", reason=unbound.reason)
            issues.comment(
                gh,
                escalation.repository,
                escalation.issue_number,
                f"@{login}: {unbound.reason}. This escalation is still pending.",
            )
            return
    _settle(deps, gh, escalation, "approved" if command == "approve" else "denied", login, now)


def approval_unbound(gh: GitHub, escalation: Escalation, said_digest: str | None) -> Refusal | None:
    """Why an approval of `escalation` does not count, whoever gives it; None if it does."""
    floored = floor_violation(escalation.permissions)
    if floored:
        return Refusal(f"{floored} is never granted to agents, whoever approves", void=True)
    return approval_refusal(gh, binding(escalation), said_digest)


def handle_issue_edited(payload: dict[str, Any], deps: Services) -> None:
    """Someone edited an escalation issue foureyes opened: the pending request is void."""
    found = pending_for_edited_issue(payload, deps, Escalation)
    if found is None:
        return
    escalation, editor = found
    structlog.contextvars.bind_contextvars(escalation=escalation.id, editor=editor)
    log.warning("escalation.issue_edited")
    gh = deps.github.for_installation(escalation.installation_id)
    why = f"{EDITED} (edited by `{editor}`)"
    _settle(deps, gh, escalation, "denied", None, datetime.now(UTC), why=why)


def ineligible(deps: Services, gh: GitHub, escalation: Escalation, login: str) -> str | None:
    """Why `login` may not decide `escalation`, or None when they may."""
    from app.identity.broker import PolicyUnusable, repository_policy

    for human in (escalation.on_behalf_of, escalation.actor):
        if human and human.lower() == login.lower():
            return "the human an agent acts for cannot approve its escalation"
    try:
        policy = repository_policy(gh, deps, escalation.repository)
    except PolicyUnusable:
        return "the repository's policy is invalid, so nobody is eligible until it is fixed"
    if any(login_match(pattern, login) for pattern in policy.agents.logins):
        return "an agent cannot decide an escalation (the login matches agents.logins)"
    return approver_refusal(deps, gh, escalation.repository, policy.escalations.approvers, login)


def approver_refusal(
    deps: Services, gh: GitHub, repository: str, approvers: Approvers, login: str
) -> str | None:
    facts = reviewer_facts(gh, deps.state, repository, login, frozenset(approvers.teams))
    if not permission_at_least(facts.permission, approvers.permission):
        return f"deciding needs the {approvers.permission} permission on {repository}"
    if approvers.teams or approvers.users:
        in_team = bool(facts.teams and set(facts.teams) & set(approvers.teams))
        named = any(login_match(pattern, login) for pattern in approvers.users)
        if not (in_team or named):
            return "deciding needs membership of the approvers the policy names"
    return None


def _settle(
    deps: Services,
    gh: GitHub,
    escalation: Escalation,
    outcome: str,
    decided_by: str | None,
    now: datetime,
    why: str | None = None,
) -> None:
    """Record the outcome once (pending -> outcome), audit it, comment and close the issue.

    `why`: the request is void (denied by foureyes itself, not by a human), and why."""
    from app.identity.broker import repository_policy

    expires_at = escalation.expires_at
    if outcome == "approved":
        ttl = repository_policy(gh, deps, escalation.repository).escalations.ttl
        expires_at = now + timedelta(seconds=ttl)
    with deps.sessions.begin() as session:
        changed = session.execute(
            update(Escalation)
            .where(Escalation.id == escalation.id, Escalation.status == "pending")
            .values(status=outcome, decided_by=decided_by, decided_at=now, expires_at=expires_at)
        ).rowcount
    if changed != 1:
        return
    if outcome in ("approved", "denied"):
        emit(
            f"escalation.{outcome}",
            subject=f"escalation:{escalation.id}",
            installation_id=escalation.installation_id,
            repository=escalation.repository,
            actor=decided_by,
            agent=escalation.agent,
            decision=outcome,
            reason=why or f"{outcome} by {decided_by} on issue #{escalation.issue_number}",
            data={
                "escalation_id": escalation.id,
                "permissions": escalation.permissions,
                "issue": escalation.issue_number,
                "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            key=f"escalation.{outcome}:{escalation.id}",
        )
    scope = ", ".join(f"{n}: {lvl}" for n, lvl in sorted(escalation.permissions.items()))
    text = {
        "approved": (
            f"Approved by @{decided_by}. The agent may use escalation `{escalation.id}` once, "
            f"for exactly `{scope}` on `{escalation.repository}`, until "
            f"{expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        "denied": (
            f"Denied: {why}. The agent gets no token for `{scope}` and must ask again."
            if why
            else f"Denied by @{decided_by}. The agent gets no token for `{scope}`."
        ),
        "expired": "This request expired before anyone decided it. The agent must ask again.",
    }[outcome]
    issues.settle(
        gh, escalation.repository, escalation.issue_number, text, approved=outcome == "approved"
    )
    log.info("escalation.settled", outcome=outcome, decided_by=decided_by)
