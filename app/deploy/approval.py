"""A held deployment, decided by a human on an issue foureyes opened.

This is the escalation mechanism of `app.identity` applied to deployments: the same
issue-and-comment flow, the same `/foureyes approve <digest>|deny` command parser and
binding of the decision to the stored request (`app.identity.binding`), the same
approvers (`escalations.approvers`, checked against GitHub when the comment arrives).
Its records differ (an environment and a workflow run, not a token scope), so a
deployment review keeps its own table and its own `issue_comment` handler; the
escalation handler ignores issues that are not escalations, and this one ignores
issues that are not deployment reviews.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from githubkit import GitHub
from sqlalchemy import select, update

from app import acted
from app.deploy.models import DeploymentReview
from app.deploy.outcome import finish
from app.deploy.provenance import agent_reason
from app.deploy.respond import post_review
from app.errors import GoneError, TransientError
from app.github import issues
from app.github.client import github_errors
from app.identity.binding import (
    EDITED,
    Binding,
    approval_refusal,
    approve_command,
    pending_for_edited_issue,
    request_digest,
)
from app.identity.broker import PolicyUnusable, repository_policy
from app.identity.decide import approver_refusal, parse_command
from app.identity.escalation import current_approvers, fenced
from app.policy.schema import Approvers
from app.services import Services
from app.state import held_lock
from app.who_acted import RECENT_AGENT_WINDOW, live_tokens

log = structlog.get_logger()


def _code(text: str | None) -> str:
    """A code span no content breaks out of (no markdown, no @mentions)."""
    return f"`{(text or 'nobody').replace('`', '')}`"


def who_may_decide(approvers: Approvers) -> str:
    who = f"a human with repository permission **{approvers.permission}** or more"
    named = [f"team `{t}`" for t in approvers.teams] + [f"`{u}`" for u in approvers.users]
    return who + (" in " + ", ".join(named) if named else "")


def digest(review: DeploymentReview) -> str:
    """The digest an approval names: of the held deployment as stored."""
    return request_digest(
        "deployment",
        {
            "id": review.id,
            "repository": review.repository,
            "environment": review.environment,
            "sha": review.sha,
            "ref": review.ref,
            "run_id": review.run_id,
        },
    )


def binding(review: DeploymentReview) -> Binding:
    assert review.issue_number is not None
    return Binding(review.repository, review.issue_number, digest(review), review.issue_sha256)


def issue_text(review: DeploymentReview, approvers: Approvers) -> tuple[str, str]:
    title = (
        f"foureyes: approve deploying {review.sha[:7]} to {review.environment} "
        f"in {review.repository}?"
    )[:250]
    body = "\n".join(
        [
            "A deployment involves an agent, and the policy requires a human's approval.",
            "",
            "| | |",
            "| --- | --- |",
            f"| Environment | {_code(review.environment)} |",
            f"| Commit | {_code(review.sha)} |",
            f"| Ref | {_code(review.ref)} |",
            f"| Created by | {_code(review.creator)} |",
            f"| Run triggered by | {_code(review.triggering_actor)} |",
            f"| Workflow run | {review.run_id} |",
            f"| Agent | {_code(review.agent)} |",
            f"| Acting for | {_code(review.on_behalf_of)} |",
            f"| Request expires | {review.expires_at:%Y-%m-%d %H:%M} UTC |",
            "",
            "Why it counts as agent work:",
            "",
            fenced("\n".join(review.reasons)),
            "",
            f"Request digest: `{digest(review)}`",
            "",
            f"Comment `{approve_command(digest(review))}` to let it deploy or "
            "`/foureyes deny` to reject it. "
            f"Eligible: {who_may_decide(approvers)}, who did not start this deployment and "
            "is not the human the agent acts for. Unanswered, it is rejected when it expires. "
            "foureyes never edits this issue: if it is edited, the deployment is rejected.",
            "",
            f"Deployment review `{review.id}`.",
        ]
    )
    return title, body


def ask(deps: Services, gh: GitHub, review: DeploymentReview) -> int | None:
    """Open the approval issue once and tell GitHub (a status report) how to approve."""
    approvers = current_approvers(gh, deps, review.repository) or Approvers()
    number = review.issue_number
    if number is None:
        with held_lock(deps.state, f"deployment-issue:{review.id}", 300) as held:
            if not held:
                return None
            with deps.sessions() as session:
                fresh = session.get(DeploymentReview, review.id)
                number = fresh.issue_number if fresh else None
                if fresh is None or fresh.status != "pending":
                    return number
                if number is None:
                    title, body = issue_text(fresh, approvers)
                    opened = issues.open_issue(gh, review.repository, title, body)
                    number = fresh.issue_number = opened.number
                    fresh.issue_sha256 = opened.text_sha256
                    session.commit()
    report = (
        f"{review.comment} To decide, {who_may_decide(approvers).replace('**', '')} comments "
        f"{approve_command(digest(review))} or /foureyes deny on issue #{number} of "
        f"{review.repository}. "
        f"Unanswered, it is rejected at {review.expires_at:%Y-%m-%d %H:%M} UTC."
    )
    post_review(gh, review.repository, review.run_id, review.environment, report)
    log.info("deployment.held", issue=number)
    return number


def handle_issue_comment(payload: dict[str, Any], deps: Services) -> None:
    """`/foureyes approve|deny` on a deployment-approval issue, from an eligible human."""
    said = parse_command(payload)
    if said is None:
        return
    login, command = said.login, said.command
    with deps.sessions() as session:
        review = session.scalars(
            select(DeploymentReview).where(
                DeploymentReview.repository == said.repository,
                DeploymentReview.issue_number == said.issue_number,
            )
        ).first()
    if review is None or review.status != "pending":
        return
    structlog.contextvars.bind_contextvars(deployment_review=review.id, commenter=login)
    gh = deps.github.for_installation(review.installation_id)
    if review.expires_at <= datetime.now(UTC):
        settle(deps, gh, review, "expired", None)
        return
    refusal = ineligible(deps, gh, review, login)
    if refusal:
        log.info("deployment.ineligible", reason=refusal)
        if review.issue_number is not None:
            issues.comment(
                gh,
                review.repository,
                review.issue_number,
                f"@{login}: {refusal}. This deployment is still waiting.",
            )
        return
    if command == "approve":
        unbound = approval_refusal(gh, binding(review), said.digest)
        if unbound is not None and unbound.void:
            log.warning("deployment.void", reason=unbound.reason)
            settle(deps, gh, review, "denied", None, why=unbound.reason)
            return
        if unbound is not None:
            log.info("deployment.unbound", reason=unbound.reason)
            issues.comment(
                gh,
                review.repository,
                binding(review).issue_number,
                f"@{login}: {unbound.reason}. This deployment is still waiting.",
            )
            return
    settle(deps, gh, review, "approved" if command == "approve" else "denied", login)


def handle_issue_edited(payload: dict[str, Any], deps: Services) -> None:
    """Someone edited a deployment-approval issue foureyes opened: reject the deployment."""
    found = pending_for_edited_issue(payload, deps, DeploymentReview)
    if found is None:
        return
    review, editor = found
    structlog.contextvars.bind_contextvars(deployment_review=review.id, editor=editor)
    log.warning("deployment.issue_edited")
    gh = deps.github.for_installation(review.installation_id)
    settle(deps, gh, review, "denied", None, why=f"{EDITED} (edited by `{editor}`)")


def ineligible(deps: Services, gh: GitHub, review: DeploymentReview, login: str) -> str | None:
    """Why `login` may not decide `review`, or None when they may."""
    for human, role in (
        (review.on_behalf_of, "the human the agent acts for"),
        (review.creator, "whoever created the deployment"),
        (review.triggering_actor, "whoever triggered the workflow run"),
    ):
        if human and human.lower() == login.lower():
            return f"{role} cannot approve it (four eyes: someone else must)"
    principal = _principal_of_a_live_agent(deps, review, login)
    if principal:
        return principal
    try:
        numbers = pulls_with_commit(gh, review.repository, review.sha)
    except (GoneError, TransientError) as exc:
        return f"whom an agent behind this commit works for could not be read ({exc})"
    with deps.sessions() as session:
        requesters = acted.counted_requesters(session, review.repository, review.sha, numbers)
    if acted.UNKNOWN_REQUESTER in requesters:
        return (
            "whom the agent behind this commit works for could not be told (its pull request"
            " names too many requesters), so nobody can approve its deployment"
        )
    if login.lower() in requesters:
        return "the human the agent works for cannot approve it (four eyes: someone else must)"
    try:
        policy = repository_policy(gh, deps, review.repository)
    except PolicyUnusable:
        return "the repository's policy is invalid, so nobody is eligible until it is fixed"
    if agent_reason(policy, deps.github.bot_login(), login):
        return "an agent cannot approve a deployment"
    return approver_refusal(deps, gh, review.repository, policy.escalations.approvers, login)


def pulls_with_commit(gh: GitHub, repository: str, sha: str) -> list[int]:
    """The pull requests that contain the commit `sha` (any of their commits, not only the
    head: an agent may deploy an earlier commit of its pull request)."""
    owner, name = repository.split("/", 1)
    with github_errors():
        found = gh.rest.repos.list_pull_requests_associated_with_commit(owner, name, sha).json()
    return [int(pull["number"]) for pull in found]


def _principal_of_a_live_agent(deps: Services, review: DeploymentReview, login: str) -> str | None:
    """Ambiguity excludes (invariant 10): every brokered token acts as this app's bot, so
    the branch name does not tell which agent's work this is. A human on whose behalf a
    token that could write to the repository was live lately does not approve it."""
    now = datetime.now(UTC)
    with deps.sessions() as session:
        tokens = live_tokens(
            session, review.repository, review.repository.lower(), now - RECENT_AGENT_WINDOW, now
        )
    for token in tokens:
        if token.on_behalf_of and token.on_behalf_of.lower() == login.lower():
            return (
                f"{login} is the human agent token {token.token_id[:8]} ({token.agent}) acts "
                f"for, live on {review.repository} lately: an agent's human cannot approve "
                "its deployment, and foureyes cannot tell which agent's work this is"
            )
    return None


def settle(
    deps: Services,
    gh: GitHub,
    review: DeploymentReview,
    outcome: str,
    decided_by: str | None,
    why: str | None = None,
) -> None:
    """Move the review from pending to its outcome once, answer GitHub, close the issue.

    `why`: foureyes itself rejects it (the issue cannot be trusted), and why."""
    status = {"approved": "approved", "denied": "rejected", "expired": "expired"}[outcome]
    text = {
        "approved": f"foureyes: approved by {decided_by} on issue #{review.issue_number}.",
        "denied": (
            f"foureyes: rejected: {why}."
            if why
            else f"foureyes: rejected by {decided_by} on issue #{review.issue_number}."
        ),
        "expired": "foureyes: rejected. Nobody approved this deployment before it expired.",
    }[outcome]
    now = datetime.now(UTC)
    with deps.sessions.begin() as session:
        changed = session.execute(
            update(DeploymentReview)
            .where(DeploymentReview.id == review.id, DeploymentReview.status == "pending")
            .values(status=status, decided_by=decided_by, decided_at=now, comment=text)
        ).rowcount
    if changed != 1:
        return
    with deps.sessions() as session:
        fresh = session.get(DeploymentReview, review.id)
    assert fresh is not None
    finish(deps, gh, fresh)
    if review.issue_number is not None:
        said = text.removeprefix("foureyes: ")
        issues.settle(
            gh,
            review.repository,
            review.issue_number,
            said[0].upper() + said[1:],
            approved=outcome == "approved",
        )
    log.info("deployment.settled", outcome=outcome, decided_by=decided_by)


def expire_due(deps: Services) -> int:
    """Reject every held deployment whose time ran out; returns how many."""
    now = datetime.now(UTC)
    with deps.sessions() as session:
        due = list(
            session.scalars(
                select(DeploymentReview).where(
                    DeploymentReview.status == "pending", DeploymentReview.expires_at <= now
                )
            )
        )
    for review in due:
        settle(deps, deps.github.for_installation(review.installation_id), review, "expired", None)
    return len(due)
