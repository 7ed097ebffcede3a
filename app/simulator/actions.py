"""The simulated GitHub Actions side: workflow runs, deployments, deployment protection
rules and protected branches.

Kept beside the `World` (one `ActionsState` per world, created on first use) so that the
core simulator does not grow for one feature. Mutate under `world.lock`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.simulator import examples, render
from app.simulator.model import Installation, Repo
from app.simulator.world import World


@dataclass
class WorkflowRun:
    id: int
    repo: str  # full name, lower case
    name: str
    path: str  # `.github/workflows/ci.yml`
    head_branch: str
    head_sha: str
    event: str
    actor: str
    triggering_actor: str
    pull_numbers: list[int]
    created_at: datetime
    status: str = "queued"  # queued | in_progress | completed | waiting
    conclusion: str | None = None
    run_attempt: int = 1
    run_number: int = 1
    cancelled_by_app: int | None = None


@dataclass
class Deployment:
    id: int
    repo: str
    sha: str
    ref: str
    environment: str
    creator: str
    run_id: int
    created_at: datetime


@dataclass
class ProtectionReview:
    """One `POST .../deployment_protection_rule` an app made: a decision or a status report."""

    run_id: int
    environment: str
    app_id: int
    state: str | None  # approved | rejected; None for a status report
    comment: str
    at: datetime


@dataclass
class ActionsState:
    runs: dict[int, WorkflowRun] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    reviews: list[ProtectionReview] = field(default_factory=list)
    # (run id, environment) -> waiting | approved | rejected
    gates: dict[tuple[int, str], str] = field(default_factory=dict)
    protected: set[tuple[str, str]] = field(default_factory=set)  # (repo lower, branch)


_STATES: weakref.WeakKeyDictionary[World, ActionsState] = weakref.WeakKeyDictionary()


def actions(world: World) -> ActionsState:
    """The Actions state of `world`, created on first use."""
    with world.lock:
        state = _STATES.get(world)
        if state is None:
            state = _STATES[world] = ActionsState()
        return state


# -- rendering -------------------------------------------------------------------------
def render_run(
    world: World, repo: Repo, run: WorkflowRun, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("workflow-run")
    api = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}"
    t = render.rebase(world, t)
    t.update(
        id=run.id,
        name=run.name,
        node_id=render.node_id("WorkflowRun", run.id),
        head_branch=run.head_branch,
        head_sha=run.head_sha,
        path=run.path,
        event=run.event,
        display_title=run.name,
        status=run.status,
        conclusion=run.conclusion,
        run_attempt=run.run_attempt,
        run_number=run.run_number,
        created_at=render.iso(run.created_at),
        updated_at=render.iso(world.now()),
        run_started_at=render.iso(run.created_at),
    )
    for key, suffix in (
        ("url", ""),
        ("cancel_url", "/cancel"),
        ("rerun_url", "/rerun"),
        ("jobs_url", "/jobs"),
        ("logs_url", "/logs"),
        ("artifacts_url", "/artifacts"),
    ):
        t[key] = f"{api}/actions/runs/{run.id}{suffix}"
    t["html_url"] = f"{world.base_url.rstrip('/')}/{repo.full_name}/actions/runs/{run.id}"
    t["previous_attempt_url"] = None
    t["actor"] = render.user(world, run.actor)
    t["triggering_actor"] = render.user(world, run.triggering_actor)
    t["repository"] = render.repository(world, repo)
    t["head_repository"] = render.repository(world, repo)
    t["pull_requests"] = [
        render.pull_ref(world, repo, repo.pulls[number])
        for number in run.pull_numbers
        if number in repo.pulls
    ]
    t["referenced_workflows"] = []
    commit = world.commits.get(run.head_sha)
    if commit is not None and isinstance(t.get("head_commit"), dict):
        t["head_commit"].update(id=commit.sha, message=commit.message, tree_id=commit.sha[::-1])
    return t


def render_deployment(world: World, repo: Repo, deployment: Deployment) -> dict[str, Any]:
    t = render.rebase(world, examples.rest("deployment"))
    api = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}"
    t.update(
        id=deployment.id,
        node_id=render.node_id("Deployment", deployment.id),
        sha=deployment.sha,
        ref=deployment.ref,
        environment=deployment.environment,
        original_environment=deployment.environment,
        created_at=render.iso(deployment.created_at),
        updated_at=render.iso(deployment.created_at),
        url=f"{api}/deployments/{deployment.id}",
        statuses_url=f"{api}/deployments/{deployment.id}/statuses",
        repository_url=api,
    )
    t["creator"] = render.user(world, deployment.creator)
    return t


def protection_rule_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    deployment: Deployment,
    sender: str,
) -> dict[str, Any]:
    """`deployment_protection_rule.requested` (no example in GitHub's package: built here)."""
    api = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}"
    run = actions(world).runs.get(deployment.run_id)
    payload: dict[str, Any] = {
        "action": "requested",
        "environment": deployment.environment,
        "event": run.event if run else "deployment",
        "deployment_callback_url": (
            f"{api}/actions/runs/{deployment.run_id}/deployment_protection_rule"
        ),
        "deployment": render_deployment(world, repo, deployment),
        "pull_requests": [
            render.pull(world, repo, repo.pulls[number])
            for number in (run.pull_numbers if run else [])
            if number in repo.pulls
        ],
        "repository": render.repository(world, repo),
        "sender": render.user(world, sender),
    }
    owner = world.user(repo.owner)
    if owner is not None and owner.type == "Organization":
        template = examples.webhook("merge_group.checks_requested").get("organization")
        if template:
            payload["organization"] = render.organization(world, repo.owner, template)
    if installation is not None:
        node = render.node_id("Integration", installation.id)
        payload["installation"] = {"id": installation.id, "node_id": node}
    return payload


def workflow_run_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    run: WorkflowRun,
    action: str,
) -> dict[str, Any]:
    from app.simulator.payloads import envelope

    payload = envelope(world, "workflow_run.requested", installation, repo, run.triggering_actor)
    payload["action"] = action
    payload["workflow_run"] = render_run(world, repo, run, payload["workflow_run"])
    payload["workflow"] = {**payload.get("workflow", {}), "name": run.name, "path": run.path}
    return payload
