"""Actions and deployments: workflow runs (get, cancel), custom deployment protection rule
reviews, the comparison of two commits, one commit, and a branch with its protection flag."""

from __future__ import annotations

from app.simulator import commits, examples, render
from app.simulator.actions import ProtectionReview, WorkflowRun, actions, render_run
from app.simulator.http import Call, HttpError, Reply, Routes
from app.simulator.validation import Refused

routes = Routes()


def _run(call: Call) -> WorkflowRun:
    run = actions(call.world).runs.get(call.number("run_id"))
    if run is None or run.repo != call.require_repo().full_name.lower():
        raise HttpError(404, "Not Found")
    return run


@routes.get("/repos/{owner}/{repo}/actions/runs/{run_id}", permission="actions")
def get_run(call: Call) -> Reply:
    return Reply(200, render_run(call.world, call.require_repo(), _run(call)))


@routes.post("/repos/{owner}/{repo}/actions/runs/{run_id}/cancel", permission="actions")
def cancel_run(call: Call) -> Reply:
    run = _run(call)
    if run.status == "completed":
        raise HttpError(409, "Cannot cancel a workflow run that is completed.")
    run.status, run.conclusion = "completed", "cancelled"
    run.cancelled_by_app = call.auth.app_id
    return Reply(202, {})


@routes.post(
    "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule",
    permission="deployments",
)
def review_protection_rule(call: Call) -> Reply:
    """Approve or reject (with `state`), or report status (only `comment`)."""
    run = _run(call)
    body = call.json()
    environment = body.get("environment_name")
    state = body.get("state")
    comment = body.get("comment")
    if not isinstance(environment, str) or not environment:
        raise Refused(
            422,
            "Validation Failed",
            "body",
            "environment_name is required",
            errors=[{"field": "environment_name", "code": "missing_field"}],
        )
    if state is None and not comment:
        raise Refused(
            422,
            "Validation Failed",
            "body",
            "a comment or a state is required",
            errors=[{"field": "comment", "code": "missing"}],
        )
    if state not in (None, "approved", "rejected"):
        raise Refused(
            422,
            "Validation Failed",
            "body",
            f"state {state!r}",
            errors=[{"field": "state", "code": "invalid"}],
        )
    state_of = actions(call.world).gates
    key = next(
        (k for k in state_of if k[0] == run.id and k[1].lower() == environment.lower()), None
    )
    if key is None or state_of[key] != "waiting":
        raise HttpError(422, "No pending deployment protection rule for this environment.")
    if state is not None:
        state_of[key] = state
        if state == "rejected":
            run.status, run.conclusion = "completed", "failure"
        elif all(v != "waiting" for k, v in state_of.items() if k[0] == run.id):
            run.status = "in_progress"
    actions(call.world).reviews.append(
        ProtectionReview(
            run.id, environment, call.auth.app_id or 0, state, str(comment or ""), call.world.now()
        )
    )
    return Reply(204)


@routes.get("/repos/{owner}/{repo}/compare/{basehead+}", permission="contents")
def compare(call: Call) -> Reply:
    return commits.compare(call)


@routes.get("/repos/{owner}/{repo}/commits/{ref}", permission="contents")
def get_commit(call: Call) -> Reply:
    return commits.get_commit(call)


@routes.get("/repos/{owner}/{repo}/branches/{branch+}", permission="contents")
def get_branch(call: Call) -> Reply:
    repo = call.require_repo()
    name = call.params["branch"]
    if name not in repo.branches:
        raise HttpError(404, "Branch not found")
    body = render.rebase(call.world, examples.rest("branch-get"))
    protected = (repo.full_name.lower(), name) in actions(call.world).protected
    commit = call.world.commits[repo.branches[name]]
    body.update(name=name, protected=protected)
    body["commit"] = render.commit(call.world, repo, commit)
    body["protection_url"] = f"{call.base_url}/repos/{repo.full_name}/branches/{name}/protection"
    body["protection"] = {"enabled": protected, "required_status_checks": None}
    return Reply(200, body)
