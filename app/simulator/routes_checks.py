"""Check runs: create, update, get, and list for a ref."""

from __future__ import annotations

from app.simulator import render
from app.simulator.http import Call, HttpError, Reply, Routes, paginate
from app.simulator.model import CheckRun
from app.simulator.repos import create_check_run, update_check_run
from app.simulator.validation import Refused

routes = Routes()
STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)


def _validate(fields: dict[str, object]) -> None:
    invalid = []
    if "status" in fields and fields["status"] not in STATUSES:
        invalid.append("status")
    if fields.get("conclusion") is not None and fields["conclusion"] not in CONCLUSIONS:
        invalid.append("conclusion")
    if fields.get("status") == "completed" and not fields.get("conclusion"):
        invalid.append("conclusion")
    if "output" in fields and not (
        isinstance(fields["output"], dict) and {"title", "summary"} <= set(fields["output"])
    ):
        invalid.append("output")
    if invalid:
        errors = [{"resource": "CheckRun", "code": "invalid", "field": f} for f in invalid]
        raise Refused(422, "Invalid request.", "body", f"check run fields {invalid}", errors=errors)


def _run(call: Call) -> CheckRun:
    run = call.world.check_runs.get(call.number("check_run_id"))
    if run is None or run.repo != call.require_repo().full_name.lower():
        raise HttpError(404, "Not Found")
    return run


@routes.post("/repos/{owner}/{repo}/check-runs", permission="checks")
def create(call: Call) -> Reply:
    repo = call.require_repo()
    fields = call.json()
    if not fields.get("name") or not fields.get("head_sha"):
        raise Refused(
            422,
            "Invalid request.",
            "body",
            "name and head_sha are required",
            errors=[{"field": "name", "code": "missing"}],
        )
    commit = call.world.resolve(repo, str(fields["head_sha"]))
    if commit is None:
        raise HttpError(422, "No commit found for SHA: " + str(fields["head_sha"]))
    _validate(fields)
    run = create_check_run(
        call.world, repo, call.auth.app_id or 0, {**fields, "head_sha": commit.sha}
    )
    return Reply(201, render.check_run(call.world, run))


@routes.patch("/repos/{owner}/{repo}/check-runs/{check_run_id}", permission="checks")
def update(call: Call) -> Reply:
    run = _run(call)
    if run.app_id != call.auth.app_id:
        raise HttpError(403, "Invalid app_id `%s` - check run can only be modified by its app")
    fields = call.json()
    _validate(fields)
    update_check_run(call.world, run, fields)
    return Reply(200, render.check_run(call.world, run))


@routes.get("/repos/{owner}/{repo}/check-runs/{check_run_id}", permission="checks")
def get(call: Call) -> Reply:
    return Reply(200, render.check_run(call.world, _run(call)))


@routes.get("/repos/{owner}/{repo}/commits/{ref+}/check-runs", permission="checks")
def list_for_ref(call: Call) -> Reply:
    repo = call.require_repo()
    commit = call.world.resolve(repo, call.params["ref"])
    if commit is None:
        raise HttpError(422, f"No commit found for SHA: {call.params['ref']}")
    name, status = call.query.get("check_name"), call.query.get("status")
    app_id = call.query.get("app_id")
    runs = sorted(
        (
            run
            for run in call.world.check_runs.values()
            if run.repo == repo.full_name.lower() and run.head_sha == commit.sha
        ),
        key=lambda run: run.id,
        reverse=True,
    )
    if call.query.get("filter", "latest") == "latest":
        latest: dict[tuple[str, int], CheckRun] = {}
        for run in runs:
            latest.setdefault((run.name, run.app_id), run)
        runs = list(latest.values())
    runs = [
        run
        for run in runs
        if (not name or run.name == name)
        and (not status or run.status == status)
        and (not app_id or str(run.app_id) == app_id)
    ]
    return paginate(
        call,
        runs,
        lambda chunk: {
            "total_count": len(runs),
            "check_runs": [render.check_run(call.world, run) for run in chunk],
        },
    )
