"""The workflow and push guards' handlers and tasks, and the merge provenance record."""

from __future__ import annotations

from typing import Any

import structlog
from celery import shared_task

from app.deploy.push_guard import guard_push, record_merge
from app.deploy.workflow_guard import guard_run
from app.services import Services, services
from workers.router import Router

router = Router()


def _installation(payload: dict[str, Any]) -> int:
    return int(payload["installation"]["id"])


@router.on("workflow_run", "requested", "in_progress")
def on_workflow_run(payload: dict[str, Any], deps: Services) -> None:
    repository = payload["repository"]
    guard_workflow_run.apply_async(
        args=(
            _installation(payload),
            repository["full_name"],
            int(payload["workflow_run"]["id"]),
            repository.get("default_branch") or "main",
        )
    )


@router.on("push")
def on_push(payload: dict[str, Any], deps: Services) -> None:
    repository = payload["repository"]
    push = {
        "ref": payload.get("ref") or "",
        "before": payload.get("before") or "",
        "after": payload.get("after") or "",
        "forced": bool(payload.get("forced")),
        "deleted": bool(payload.get("deleted")),
        "sender": (payload.get("sender") or {}).get("login") or "",
        "default_branch": repository.get("default_branch") or "main",
        # The delivery this push came in: the same move pushed again (after a revert) is
        # another push, and is flagged again; a redelivery of this one is not.
        "delivery": structlog.contextvars.get_contextvars().get("delivery") or "",
    }
    guard_push_task.apply_async(args=(_installation(payload), repository["full_name"], push))


@router.on("pull_request", "closed")
def on_pull_request_closed(payload: dict[str, Any], deps: Services) -> None:
    pull = payload["pull_request"]
    if not pull.get("merged"):
        return
    merge = {
        "number": pull["number"],
        "merge_commit_sha": pull.get("merge_commit_sha"),
        "head_sha": pull["head"]["sha"],
        "base_ref": pull["base"]["ref"],
        "merged_by": (pull.get("merged_by") or {}).get("login"),
        "default_branch": payload["repository"].get("default_branch") or "main",
    }
    record_merge_task.apply_async(
        args=(_installation(payload), payload["repository"]["full_name"], merge)
    )


@shared_task(name="workers.guards.guard_workflow_run", bind=True)
def guard_workflow_run(
    self: Any, installation_id: int, repository: str, run_id: int, default_branch: str
) -> str:
    """Cancel (or flag) a run of agent-changed CI code that no human approved."""
    last_attempt = self.request.retries >= (self.max_retries or 0)
    return guard_run(services(), installation_id, repository, run_id, default_branch, last_attempt)


@shared_task(name="workers.guards.guard_push", bind=True)
def guard_push_task(
    self: Any, installation_id: int, repository: str, push: dict[str, Any]
) -> list[str]:
    """Flag an agent's push to the default or a protected branch, outside its prefix, or forced."""
    last_attempt = self.request.retries >= (self.max_retries or 0)
    return list(guard_push(services(), installation_id, repository, push, last_attempt))


@shared_task(name="workers.guards.record_merge")
def record_merge_task(installation_id: int, repository: str, merge: dict[str, Any]) -> list[str]:
    """Record a merge's provenance; flag it when an agent merged."""
    return list(record_merge(services(), installation_id, repository, merge))
