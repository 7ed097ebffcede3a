"""Issues and issue comments (pull requests are issues too, as on GitHub)."""

from __future__ import annotations

from app.simulator import payloads, render
from app.simulator.history import history
from app.simulator.http import Call, HttpError, Reply, Routes, paginate
from app.simulator.model import Issue, Pull
from app.simulator.repos import add_comment, open_issue
from app.simulator.validation import Refused

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


def _missing(field: str) -> Refused:
    return Refused(
        422,
        "Validation Failed",
        "body",
        f"{field} is required",
        errors=[{"resource": "Issue", "field": field, "code": "missing_field"}],
    )


@routes.post("/repos/{owner}/{repo}/issues", permission="issues")
def create_issue(call: Call) -> Reply:
    repo = call.require_repo()
    body = call.json()
    if not body.get("title"):
        raise _missing("title")
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
        raise Refused(
            422,
            "Validation Failed",
            "body",
            f"state {state!r}",
            errors=[{"field": "state", "code": "invalid"}],
        )
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
        raise _missing("body")
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


@routes.get(
    "/repos/{owner}/{repo}/issues/{issue_number}/events", permission=("issues", "pull_requests")
)
def list_issue_events(call: Call) -> Reply:
    """The issue's events GitHub recorded, oldest first, each naming its `actor`."""
    repo, issue = call.require_repo(), _issue(call)
    items = [
        item
        for item in history(call.world).issue_events
        if item.repo == repo.full_name.lower() and item.number == issue.number
    ]
    reply = paginate(call, items)
    api = f"{call.base_url}/repos/{repo.full_name}"
    reply.body = [
        {
            "id": item.id,
            "node_id": render.node_id("IE", item.id),
            "url": f"{api}/issues/events/{item.id}",
            "actor": render.user(call.world, item.actor),
            "event": item.event,
            "commit_id": None,
            "commit_url": None,
            "created_at": render.iso(item.created_at),
            "performed_via_github_app": None,
            **item.data,
        }
        for item in reply.body
    ]
    return reply
