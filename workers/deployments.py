"""The deployment gate's handlers and tasks: answer custom deployment protection rules,
decide held deployments from issue comments, reject the ones nobody decided in time."""

from __future__ import annotations

from typing import Any

import structlog
from celery import shared_task

from app.deploy.approval import expire_due, handle_issue_comment, handle_issue_edited
from app.deploy.review import DeploymentRequest, request_from_payload, review_deployment
from app.services import Services, services
from app.state import held_lock
from workers.router import Router

log = structlog.get_logger()
router = Router()
router.on("issue_comment", "created")(handle_issue_comment)
router.on("issues", "edited")(handle_issue_edited)

EXPIRE_EVERY = 60.0


@router.on("deployment_protection_rule", "requested")
def on_deployment_protection_rule(payload: dict[str, Any], deps: Services) -> None:
    request = request_from_payload(payload)
    if request is None:
        log.warning("deployment.unusable_request")
        return
    review_deployment_task.apply_async(args=(request.as_dict(),))


@shared_task(name="workers.deployments.review_deployment", bind=True)
def review_deployment_task(self: Any, request: dict[str, Any]) -> str:
    """Approve, reject or hold one deployment (an environment of a workflow run)."""
    last_attempt = self.request.retries >= (self.max_retries or 0)
    return review_deployment(services(), DeploymentRequest(**request), last_attempt)


@shared_task(name="workers.deployments.expire_deployment_reviews")
def expire_deployment_reviews() -> int:
    """Reject held deployments whose time to decide ran out."""
    deps = services()
    with held_lock(deps.state, "sweep:deployment-reviews", EXPIRE_EVERY * 4) as held:
        if not held:
            return 0
        return expire_due(deps)
