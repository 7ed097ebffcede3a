"""Issues and issue comments (pull requests are issues too, as on GitHub)."""

from __future__ import annotations

from app.simulator import payloads, render
from app.simulator.http import Call, HttpError, Reply, Routes, paginate
from app.simulator.model import Issue, Pull
from app.simulator.repos import add_comment, open_issue

routes = Routes()


def _issue(call: Call) -> Issue | Pull:
    repo = call.require_repo()
    number = call.number("issue_number")
    found = repo.issues.get(number) or repo.pulls.get(number)
    if found is None:
        raise HttpError(404, "Not Found")
    return found


def _bot(call: Call) -> str:
    return call.world.apps[call.auth.app_id or 0].bot_login


@routes.post("/repos/{owner}/{repo}/issues", permission="issues")
def create_issue(call: Call) -> Reply:
    repo = call.require_repo()
    body = call.json()
    if not body.get("title"):
        raise HttpError(422, "Validation Failed", errors=[{"field": "title", "code": "missing"}])
    issue = open_issue(
        call.world,
        repo,
        _bot(call),
        str(body["title"]),
        str(body.get("body") or ""),
        labels=[str(x) for x in body.get("labels") or []],
        assignees=[str(x) for x in body.get("assignees") or []],
    )
    return Reply(201, render.issue(call.world, repo, issue))


@routes.get("/repos/{owner}/{repo}/issues/{issue_number}", permission="issues")
def get_issue(call: Call) -> Reply:
    return Reply(200, render.issue(call.world, call.require_repo(), _issue(call)))


@routes.patch("/repos/{owner}/{repo}/issues/{issue_number}", permission="issues")
def update_issue(call: Call) -> Reply:
    """Update an issue; a changed title or body sends `issues.edited` with `changes`
    (the old values), its sender whoever called: an installation token is the app's bot."""
    repo, issue = call.require_repo(), _issue(call)
    body = call.json()
    state = body.get("state")
    if state not in (None, "open", "closed"):
        raise HttpError(422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}])
    changes = {
        key: {"from": getattr(issue, key)}
        for key in ("title", "body")
        if key in body and body[key] != getattr(issue, key)
    }
    for key in ("title", "body", "labels"):
        if key in body:
            setattr(issue, key, body[key])
    if changes and isinstance(issue, Issue):
        sender = call.auth.login or _bot(call)
        edited = issue
        call.world.queue_webhook(
            "issues",
            repo,
            lambda i: payloads.issues_event(
                call.world, i, repo, edited, "edited", sender, changes=changes
            ),
        )
    if isinstance(issue, Issue) and "assignees" in body:
        issue.assignees = list(body["assignees"])
    now = call.world.now()
    if state and state != issue.state:
        issue.state = state
        issue.closed_at = now if state == "closed" else None
        if isinstance(issue, Issue):
            issue.state_reason = body.get("state_reason") or (
                "completed" if state == "closed" else "reopened"
            )
    issue.updated_at = now
    return Reply(200, render.issue(call.world, repo, issue))


@routes.post(
    "/repos/{owner}/{repo}/issues/{issue_number}/comments", permission=("issues", "pull_requests")
)
def create_comment(call: Call) -> Reply:
    repo, issue = call.require_repo(), _issue(call)
    body = call.json()
    if not body.get("body"):
        raise HttpError(422, "Validation Failed", errors=[{"field": "body", "code": "missing"}])
    comment = add_comment(call.world, repo, issue.number, _bot(call), str(body["body"]))
    return Reply(201, render.comment(call.world, repo, comment))


@routes.get(
    "/repos/{owner}/{repo}/issues/{issue_number}/comments", permission=("issues", "pull_requests")
)
def list_comments(call: Call) -> Reply:
    repo, issue = call.require_repo(), _issue(call)
    comments = [c for c in repo.comments if c.issue_number == issue.number]
    reply = paginate(call, comments)
    reply.body = [render.comment(call.world, repo, c) for c in reply.body]
    return reply
