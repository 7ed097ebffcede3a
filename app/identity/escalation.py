"""Escalations: a request beyond the rules becomes an issue that a human decides.

An escalation is a new authorisation event (invariant 8): an eligible human approves it
on the issue foureyes opened, once, for exactly the scope asked (same identity, same
repository, same permissions), and it must be used before it expires.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select, update

from app.audit.emit import emit
from app.errors import DeniedError
from app.github import issues
from app.identity.authorise import Escalate
from app.identity.binding import Binding, approve_command, request_digest
from app.identity.models import Escalation
from app.identity.request import TokenRequest
from app.identity.verify import WorkloadIdentity
from app.policy.schema import Approvers
from app.services import Services
from app.state import held_lock

log = structlog.get_logger()

PENDING_TTL = timedelta(days=1)  # how long a human may take to decide


def url(deps: Services, escalation_id: str) -> str:
    return f"{deps.settings.foureyes_url}/escalations/{escalation_id}"


def digest(escalation: Escalation) -> str:
    """The digest an approval names: of the request as stored, never of the issue text."""
    return request_digest(
        "escalation",
        {
            "id": escalation.id,
            "repository": escalation.repository,
            "issuer": escalation.issuer,
            "subject": escalation.subject,
            "on_behalf_of": escalation.on_behalf_of,
            "permissions": escalation.permissions,
            "ttl": escalation.ttl,
            "task": escalation.task,
        },
    )


def binding(escalation: Escalation) -> Binding:
    assert escalation.issue_number is not None
    return Binding(
        escalation.repository, escalation.issue_number, digest(escalation), escalation.issue_sha256
    )


def open_request(
    deps: Services,
    identity: WorkloadIdentity,
    request: TokenRequest,
    installation_id: int,
    decision: Escalate,
) -> Escalation:
    """Record the request (or find the same one still pending) and queue its issue."""
    from workers.tokens import open_escalation_issue

    now = datetime.now(UTC)
    with deps.sessions.begin() as session:
        same = session.scalars(
            select(Escalation).where(
                func.lower(Escalation.repository) == request.repository.lower(),
                Escalation.issuer == identity.issuer,
                Escalation.subject == identity.subject,
                Escalation.status == "pending",
                Escalation.expires_at > now,
            )
        ).all()
        for pending in same:
            if pending.permissions == request.permissions:
                return pending
        escalation = Escalation(
            id=secrets.token_hex(16),
            installation_id=installation_id,
            repository=request.repository,
            issuer=identity.issuer,
            subject=identity.subject,
            on_behalf_of=identity.on_behalf_of,
            actor=identity.actor,
            rule=decision.rule,
            permissions=request.permissions,
            ttl=decision.ttl,
            task=request.task,
            reason=f"beyond the rule {decision.rule!r}: {', '.join(decision.beyond)}",
            status="pending",
            created_at=now,
            expires_at=now + PENDING_TTL,
        )
        session.add(escalation)
    emit(
        "escalation.requested",
        subject=f"escalation:{escalation.id}",
        installation_id=installation_id,
        repository=request.repository,
        agent=identity.agent,
        actor=identity.on_behalf_of,
        decision="pending",
        reason=escalation.reason,
        data={
            "escalation_id": escalation.id,
            "permissions": request.permissions,
            "ttl": decision.ttl,
            "rule": decision.rule,
            "task": request.task,
            "on_behalf_of": identity.on_behalf_of,
        },
        key=f"escalation.requested:{escalation.id}",
    )
    try:
        open_escalation_issue.delay(escalation.id)
    except Exception as exc:
        # The sweep opens issues that were never queued; the agent still gets its answer.
        log.error("escalation.not_queued", escalation=escalation.id, error=type(exc).__name__)
    return escalation


def redeem(deps: Services, identity: WorkloadIdentity, request: TokenRequest) -> Escalation:
    """Use an approved escalation, once: same identity, repository and permissions."""
    now = datetime.now(UTC)
    with deps.sessions.begin() as session:
        escalation = session.get(Escalation, request.escalation)
        if (
            escalation is None
            or escalation.issuer != identity.issuer
            or escalation.subject != identity.subject
        ):
            raise DeniedError("no such escalation for this identity")
        if escalation.repository != request.repository:
            raise DeniedError("the escalation was approved for another repository")
        if escalation.permissions != request.permissions:
            raise DeniedError("the escalation was approved for other permissions")
        if escalation.status != "approved":
            raise DeniedError(f"the escalation is {escalation.status}, not approved")
        if escalation.expires_at <= now:
            raise DeniedError("the approved escalation has expired")
        used = session.execute(
            update(Escalation)
            .where(Escalation.id == escalation.id, Escalation.status == "approved")
            .values(status="used")
        ).rowcount
        if used != 1:
            raise DeniedError("the escalation was already used")
        session.expunge(escalation)
    return escalation


def unredeem(deps: Services, escalation_id: str) -> None:
    """Minting failed after the escalation was taken: give the approval back."""
    with deps.sessions.begin() as session:
        session.execute(
            update(Escalation)
            .where(Escalation.id == escalation_id, Escalation.status == "used")
            .values(status="approved")
        )


def record_token(deps: Services, escalation_id: str, token_id: str) -> None:
    with deps.sessions.begin() as session:
        session.execute(
            update(Escalation).where(Escalation.id == escalation_id).values(token_id=token_id)
        )


def fenced(text: str) -> str:
    """`text` as a code block no content can break out of (no markdown, no @mentions)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def issue_text(deps: Services, escalation: Escalation, approvers: Approvers) -> tuple[str, str]:
    scope = ", ".join(f"{name}: {level}" for name, level in sorted(escalation.permissions.items()))
    who = [f"repository permission **{approvers.permission}** or more"]
    if approvers.teams or approvers.users:
        who.append(
            "and one of "
            + ", ".join(
                [f"team `{t}`" for t in approvers.teams] + [f"`{u}`" for u in approvers.users]
            )
        )
    title = f"foureyes: an agent asks for {scope} on {escalation.repository}"[:250]
    body = "\n".join(
        [
            "An agent asks for more access than this repository's token rules grant.",
            "",
            "| | |",
            "| --- | --- |",
            f"| Agent (workload identity) | `{escalation.agent.replace('`', '')}` |",
            f"| Acting for | {_login(escalation.on_behalf_of)} |",
            f"| Repository | `{escalation.repository}` |",
            f"| Permissions asked | `{scope}` |",
            f"| Why it needs approval | {escalation.reason.replace('|', '/')} |",
            f"| Token lifetime | {escalation.ttl} s |",
            f"| Request expires | {escalation.expires_at:%Y-%m-%d %H:%M} UTC |",
            "",
            "Task, as the agent describes it:",
            "",
            fenced(escalation.task or "(none given)"),
            "",
            f"Request digest: `{digest(escalation)}` (also on {url(deps, escalation.id)})",
            "",
            f"To approve, comment `{approve_command(digest(escalation))}`; to refuse, "
            "`/foureyes deny`. Eligible: a human with "
            + " ".join(who)
            + ", who is not the human the agent acts for. An approval lets this agent "
            "mint one token, for exactly this scope, once. foureyes never edits this "
            "issue: if it is edited, the request is void.",
            "",
            f"Escalation `{escalation.id}`: {url(deps, escalation.id)}",
        ]
    )
    return title, body


def _login(login: str | None) -> str:
    # A code span, so the human is named without being pinged by the agent's claim.
    return f"`{login}`" if login else "nobody named"


def open_issue(deps: Services, escalation_id: str) -> int | None:
    """Open the escalation's issue once (the task body); returns its number."""

    with held_lock(deps.state, f"escalation-issue:{escalation_id}", 300) as held:
        if not held:
            return None
        with deps.sessions() as session:
            escalation = session.get(Escalation, escalation_id)
            if escalation is None or escalation.issue_number is not None:
                return None
            if escalation.status != "pending":
                return None
            gh = deps.github.for_installation(escalation.installation_id)
            approvers = current_approvers(gh, deps, escalation.repository)
            title, body = issue_text(deps, escalation, approvers or Approvers())
            opened = issues.open_issue(gh, escalation.repository, title, body)
            escalation.issue_number = opened.number
            escalation.issue_sha256 = opened.text_sha256
            session.commit()
    log.info("escalation.issue_opened", escalation=escalation_id, issue=opened.number)
    return opened.number


def current_approvers(gh: Any, deps: Services, repository: str) -> Approvers | None:
    """Who may decide, per the policy now; None when the policy is unusable."""
    from app.identity.broker import PolicyUnusable, repository_policy

    try:
        return repository_policy(gh, deps, repository).escalations.approvers
    except PolicyUnusable:
        return None
