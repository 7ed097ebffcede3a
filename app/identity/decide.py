"""`/foureyes approve` and `/foureyes deny` on an escalation issue foureyes opened.

Called by the webhook router for `issue_comment.created`. Edits, bots, other issues and
other comments are ignored; only an eligible human decides, with the permission checked
against GitHub now, never the requester's human and never a bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from githubkit import GitHub
from sqlalchemy import select, update

from app.audit.emit import emit
from app.github import issues
from app.github.gather import reviewer_facts
from app.identity.escalation import COMMAND, current_approvers
from app.identity.models import Escalation
from app.policy.facts import permission_at_least
from app.policy.globs import login_match
from app.policy.schema import Approvers
from app.services import Services

log = structlog.get_logger()


def command_of(body: str | None) -> str | None:
    """`approve` or `deny` when the comment's first line is the command, else None."""
    lines = [line.strip() for line in (body or "").strip().splitlines()]
    match = COMMAND.match(lines[0]) if lines else None
    return match.group(1).lower() if match else None


@dataclass(frozen=True)
class Command:
    """A `/foureyes approve|deny` comment by a human on an issue (not a pull request)."""

    login: str
    command: str
    repository: str
    issue_number: int


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
    command = command_of(comment.get("body"))
    repository = (payload.get("repository") or {}).get("full_name")
    number = issue.get("number")
    if issue.get("pull_request") or command is None or not repository:
        return None
    if not isinstance(number, int):
        return None
    return Command(login, command, repository, number)


def handle_issue_comment(payload: dict[str, Any], deps: Services) -> None:
    said = parse_command(payload)
    if said is None:
        return
    login, command, repository = said.login, said.command, said.repository
    with deps.sessions() as session:
        escalation = session.scalars(
            select(Escalation).where(
                Escalation.repository == repository, Escalation.issue_number == said.issue_number
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
    _settle(deps, gh, escalation, "approved" if command == "approve" else "denied", login, now)


def ineligible(deps: Services, gh: GitHub, escalation: Escalation, login: str) -> str | None:
    """Why `login` may not decide `escalation`, or None when they may."""
    for human in (escalation.on_behalf_of, escalation.actor):
        if human and human.lower() == login.lower():
            return "the human an agent acts for cannot approve its escalation"
    approvers = current_approvers(gh, deps, escalation.repository)
    if approvers is None:
        return "the repository's policy is invalid, so nobody is eligible until it is fixed"
    return approver_refusal(deps, gh, escalation.repository, approvers, login)


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
) -> None:
    """Record the outcome once (pending -> outcome), audit it, comment and close the issue."""
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
            reason=f"{outcome} by {decided_by} on issue #{escalation.issue_number}",
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
        "denied": f"Denied by @{decided_by}. The agent gets no token for `{scope}`.",
        "expired": "This request expired before anyone decided it. The agent must ask again.",
    }[outcome]
    issues.settle(
        gh, escalation.repository, escalation.issue_number, text, approved=outcome == "approved"
    )
    log.info("escalation.settled", outcome=outcome, decided_by=decided_by)
