"""The final answer to a deployment protection rule: tell GitHub, then audit it once."""

from __future__ import annotations

import structlog
from githubkit import GitHub
from sqlalchemy import update

from app.audit.emit import emit
from app.deploy.models import DeploymentReview
from app.deploy.respond import post_review
from app.services import Services

log = structlog.get_logger()


def finish(deps: Services, gh: GitHub, review: DeploymentReview) -> None:
    """Send the final answer GitHub has not taken yet, mark it taken, and audit it once."""
    state = "approved" if review.status in ("approved", "observed") else "rejected"
    post_review(gh, review.repository, review.run_id, review.environment, review.comment, state)
    with deps.sessions.begin() as session:
        session.execute(
            update(DeploymentReview).where(DeploymentReview.id == review.id).values(answered=True)
        )
    emit(
        f"deployment.{state}",
        subject=review.subject,
        installation_id=review.installation_id,
        repository=review.repository,
        actor=review.decided_by or review.triggering_actor or review.creator,
        agent=review.agent,
        decision=state,
        reason=review.comment,
        data={
            "environment": review.environment,
            "sha": review.sha,
            "ref": review.ref,
            "run_id": review.run_id,
            "deployment_id": review.deployment_id,
            "creator": review.creator,
            "triggering_actor": review.triggering_actor,
            "agent_involvement": review.reasons,
            "verdict": review.verdict,
            "outcome": review.status,
            "mode": "observe" if review.status == "observed" else "enforce",
            "decided_by": review.decided_by,
            "issue": review.issue_number,
        },
        key=f"deployment.{state}:{review.id}",
    )
    log.info("deployment.answered", state=state, outcome=review.status)
