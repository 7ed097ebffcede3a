"""Review one deployment protection rule request: gather, decide, record, answer.

Idempotent: the request's natural key is (repository, run id, environment). A
redelivered request finds its record and only finishes what is unfinished (an answer
GitHub has not taken, an approval issue not yet opened).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from githubkit import GitHub
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.deploy import approval
from app.deploy.decide import (
    DeploymentDecision,
    DeploymentFacts,
    decide_deployment,
    observed_decision,
    policy_error_decision,
    unreadable_decision,
)
from app.deploy.gather import provenance_of, workflow_run
from app.deploy.models import DeploymentReview
from app.deploy.outcome import finish
from app.deploy.provenance import agent_reason
from app.deploy.respond import callback_run_id
from app.errors import GoneError, TransientError
from app.github.answers import github_said
from app.github.gather import account, load_repository_policy
from app.identity.escalation import PENDING_TTL
from app.identity.links import find_agent_link
from app.policy.facts import AgentLink
from app.services import Services

log = structlog.get_logger()


@dataclass(frozen=True)
class DeploymentRequest:
    """The plain fields of `deployment_protection_rule.requested` a task needs."""

    installation_id: int
    repository: str
    default_branch: str
    environment: str
    run_id: int
    deployment_id: int | None
    sha: str
    ref: str
    creator: str | None
    creator_type: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def request_from_payload(payload: dict[str, Any]) -> DeploymentRequest | None:
    """The request, or None when the payload names no run of this repository."""
    repository = payload["repository"]["full_name"]
    deployment = payload.get("deployment") or {}
    run_id = callback_run_id(payload.get("deployment_callback_url") or "", repository)
    environment = payload.get("environment") or deployment.get("environment")
    if run_id is None or not environment or not deployment.get("sha"):
        return None
    creator = deployment.get("creator") or {}
    return DeploymentRequest(
        installation_id=int(payload["installation"]["id"]),
        repository=repository,
        default_branch=payload["repository"].get("default_branch") or "main",
        environment=str(environment),
        run_id=run_id,
        deployment_id=deployment.get("id"),
        sha=deployment["sha"],
        ref=deployment.get("ref") or "",
        creator=creator.get("login"),
        creator_type=creator.get("type") or "User",
    )


def _existing(deps: Services, request: DeploymentRequest) -> DeploymentReview | None:
    with deps.sessions() as session:
        return session.scalars(
            select(DeploymentReview).where(
                DeploymentReview.repository == request.repository,
                DeploymentReview.run_id == request.run_id,
                DeploymentReview.environment == request.environment,
            )
        ).first()


@dataclass(frozen=True)
class Judged:
    decision: DeploymentDecision
    triggering_actor: str | None = None
    link: AgentLink | None = None
    agent: str | None = None  # who the audit names as the agent involved


def decide(deps: Services, gh: GitHub, request: DeploymentRequest) -> Judged:
    """The decision on `request` and who stands behind it."""
    loaded = load_repository_policy(gh, deps.state, request.repository, request.default_branch)
    if loaded.policy is None:
        return Judged(policy_error_decision(str(loaded.error)))
    policy = loaded.policy
    app_bot = deps.github.bot_login()
    try:
        run = workflow_run(gh, request.repository, request.run_id)
    except GoneError:
        run = {}
    with deps.sessions() as session:
        link = find_agent_link(session, request.repository, request.ref)
    facts = DeploymentFacts(
        repository=request.repository,
        environment=request.environment,
        sha=request.sha,
        ref=request.ref,
        creator=account({"login": request.creator, "type": request.creator_type})
        if request.creator
        else None,
        triggering_actor=account(run.get("triggering_actor") or run.get("actor")),
        provenance=provenance_of(
            gh,
            deps,
            policy,
            request.repository,
            request.sha,
            request.default_branch,
            app_bot,
            request.ref,
        ),
        app_bot_login=app_bot,
        agent_link=link,
    )
    agents = [
        person.login
        for person in (facts.creator, facts.triggering_actor)
        if person is not None and agent_reason(policy, app_bot, person)
    ]
    agents.extend(facts.provenance.agents)
    decision = decide_deployment(policy, facts)
    return Judged(
        observed_decision(decision) if policy.mode == "observe" else decision,
        facts.triggering_actor.login if facts.triggering_actor else None,
        link,
        link.agent if link is not None else (agents[0] if agents else None),
    )


def review_deployment(deps: Services, request: DeploymentRequest, last_attempt: bool = True) -> str:
    """Answer the request (or hold it for a human); returns the review's status.

    `last_attempt`: a transient error rejects the deployment instead of being raised for
    a retry. What GitHub says is not there (an unknown commit, unrelated histories)
    rejects it at once: a deployment is never left waiting without an answer.
    """
    structlog.contextvars.bind_contextvars(
        repository=request.repository, run_id=request.run_id, environment=request.environment
    )
    review = _existing(deps, request)
    gh = deps.github.for_installation(request.installation_id)
    if review is None:
        review = _record(deps, request, _judge(deps, gh, request, last_attempt))
    if review.status == "pending":
        approval.ask(deps, gh, review)
    elif not review.answered:
        finish(deps, gh, review)
    return review.status


def _judge(deps: Services, gh: GitHub, request: DeploymentRequest, last_attempt: bool) -> Judged:
    try:
        return decide(deps, gh, request)
    except GoneError as exc:
        reason = github_said(exc)
    except TransientError as exc:
        if not last_attempt:
            raise
        reason = f"{exc} (still failing after the retries)"
    log.warning("deployment.unreadable", reason=reason)
    return Judged(unreadable_decision(reason))


def _record(deps: Services, request: DeploymentRequest, judged: Judged) -> DeploymentReview:
    """Insert the review once; a concurrent delivery's row wins and is returned."""
    now = datetime.now(UTC)
    decision = judged.decision
    review = DeploymentReview(
        id=secrets.token_hex(16),
        installation_id=request.installation_id,
        repository=request.repository,
        environment=request.environment,
        run_id=request.run_id,
        deployment_id=request.deployment_id,
        sha=request.sha,
        ref=request.ref,
        creator=request.creator,
        triggering_actor=judged.triggering_actor,
        agent=judged.agent,
        on_behalf_of=judged.link.on_behalf_of if judged.link is not None else None,
        reasons=list(decision.reasons),
        verdict=decision.verdict,
        status=decision.state,
        comment=decision.comment,
        answered=False,
        created_at=now,
        decided_at=None if decision.state == "pending" else now,
        expires_at=now + PENDING_TTL,
    )
    try:
        with deps.sessions.begin() as session:
            session.add(review)
    except IntegrityError:
        existing = _existing(deps, request)
        assert existing is not None
        return existing
    return review
