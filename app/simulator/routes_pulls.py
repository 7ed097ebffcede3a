"""Pull requests: list, open, get, edit (retarget), commits, files, reviews and their
dismissal, and the pulls of a commit."""

from __future__ import annotations

from typing import Any

from app.simulator import examples, payloads, render
from app.simulator.commits import ancestors, merge_base
from app.simulator.history import record_issue_event
from app.simulator.http import Call, HttpError, Reply, Routes, paginate
from app.simulator.model import Pull
from app.simulator.repos import MAX_PULL_COMMITS, MAX_PULL_FILES, pull_files

routes = Routes()


def _pull(call: Call) -> Pull:
    pull = call.require_repo().pulls.get(call.number("pull_number"))
    if pull is None:
        raise HttpError(404, "Not Found")
    return pull


def _simple(call: Call, pulls: list[Pull]) -> Reply:
    repo = call.require_repo()
    reply = paginate(call, pulls)
    template = examples.rest("pull-request-simple-items")
    reply.body = [render.pull(call.world, repo, pull, dict(template)) for pull in reply.body]
    return reply


@routes.get("/repos/{owner}/{repo}/pulls", permission="pull_requests")
def list_pulls(call: Call) -> Reply:
    repo = call.require_repo()
    state = call.query.get("state", "open")  # validated against GitHub's enum already
    head, base = call.query.get("head"), call.query.get("base")
    pulls = [
        pull
        for pull in sorted(repo.pulls.values(), key=lambda p: p.number, reverse=True)
        if state in ("all", pull.state)
        and (not head or head.split(":")[-1] == pull.head_ref)
        and (not base or base == pull.base_ref)
    ]
    if call.query.get("direction") == "asc":
        pulls.reverse()
    return _simple(call, pulls)


@routes.get("/repos/{owner}/{repo}/pulls/{pull_number}", permission="pull_requests")
def get_pull(call: Call) -> Reply:
    return Reply(200, render.pull(call.world, call.require_repo(), _pull(call)))


@routes.get("/repos/{owner}/{repo}/pulls/{pull_number}/commits", permission="pull_requests")
def list_pull_commits(call: Call) -> Reply:
    repo, pull = call.require_repo(), _pull(call)
    commits = [call.world.commits[sha] for sha in pull.commits[:MAX_PULL_COMMITS]]
    reply = paginate(call, commits)
    reply.body = [render.commit(call.world, repo, commit) for commit in reply.body]
    return reply


@routes.get("/repos/{owner}/{repo}/pulls/{pull_number}/files", permission="pull_requests")
def list_pull_files(call: Call) -> Reply:
    repo, pull = call.require_repo(), _pull(call)
    changes = pull_files(call.world, pull)[:MAX_PULL_FILES]
    reply = paginate(call, changes)
    reply.body = [render.file_change(call.world, repo, pull.head_sha, c) for c in reply.body]
    return reply


@routes.get("/repos/{owner}/{repo}/pulls/{pull_number}/reviews", permission="pull_requests")
def list_reviews(call: Call) -> Reply:
    repo, pull = call.require_repo(), _pull(call)
    reply = paginate(call, list(pull.reviews))
    template = examples.rest("pull-request-review-items")
    reply.body = [
        render.review(call.world, repo, pull, review, dict(template)) for review in reply.body
    ]
    return reply


@routes.get(
    "/repos/{owner}/{repo}/commits/{commit_sha}/pulls", permission=("pull_requests", "contents")
)
def list_commit_pulls(call: Call) -> Reply:
    repo = call.require_repo()
    commit = call.world.resolve(repo, call.params["commit_sha"])
    if commit is None:
        raise HttpError(422, f"No commit found for SHA: {call.params['commit_sha']}")
    pulls = [
        pull
        for pull in sorted(repo.pulls.values(), key=lambda p: p.number)
        if commit.sha in pull.commits or pull.merge_commit_sha == commit.sha
    ]
    return _simple(call, pulls)


@routes.patch("/repos/{owner}/{repo}/pulls/{pull_number}", permission="pull_requests")
def update_pull(call: Call) -> Reply:
    """Edit title, body, state or base. A new base is a retarget: the diff is now taken
    against the new base's merge base, and `pull_request.edited` says `changes.base`."""
    repo, pull, body = call.require_repo(), _pull(call), call.json()
    state = body.get("state")
    if state not in (None, "open", "closed"):
        raise HttpError(422, "Validation Failed", errors=[{"field": "state", "code": "invalid"}])
    base = body.get("base")
    if base is not None and (base not in repo.branches or base == pull.head_ref):
        raise HttpError(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": "base", "code": "invalid"}],
        )
    if pull.state == "closed" and base is not None and base != pull.base_ref:
        raise HttpError(422, "Cannot change the base branch of a closed pull request.")
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if isinstance(body.get(key), str) and body[key] != getattr(pull, key):
            changes[key] = {"from": getattr(pull, key)}
            setattr(pull, key, body[key])
    if base is not None and base != pull.base_ref:
        changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": pull.base_sha}}
        pull.base_ref = base
        pull.base_sha = merge_base(call.world, repo.branches[base], pull.head_sha) or pull.base_sha
    if state and state != pull.state:
        pull.state = state
        pull.closed_at = call.world.now() if state == "closed" else None
    pull.updated_at = call.world.now()
    reply = Reply(200, render.pull(call.world, repo, pull))
    if changes:
        sender = _bot(call)
        reply.webhooks.append(
            (
                "pull_request",
                repo,
                lambda i: payloads.pull_request_event(
                    call.world, i, repo, pull, "edited", sender, changes=changes
                ),
            )
        )
    return reply


@routes.put(
    "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals",
    permission="pull_requests",
)
def dismiss_review(call: Call) -> Reply:
    """Dismiss an approval or a change request; sends `pull_request_review.dismissed` with
    the dismisser as `sender` and records a `review_dismissed` issue event."""
    repo, pull, body = call.require_repo(), _pull(call), call.json()
    review = next((r for r in pull.reviews if r.id == call.number("review_id")), None)
    if review is None:
        raise HttpError(404, "Not Found")
    if not isinstance(body.get("message"), str) or not body["message"]:
        raise HttpError(
            422, "Validation Failed", errors=[{"field": "message", "code": "missing_field"}]
        )
    if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
        raise HttpError(422, f"Can not dismiss a {review.state.lower()} pull request review")
    sender = _bot(call)
    record_issue_event(
        call.world,
        repo,
        pull.number,
        "review_dismissed",
        sender,
        dismissed_review={
            "state": review.state.lower(),
            "review_id": review.id,
            "dismissal_message": body["message"],
            "dismissal_commit_id": pull.head_sha,
        },
    )
    review.state = "DISMISSED"
    pull.updated_at = call.world.now()
    reply = Reply(200, render.review(call.world, repo, pull, review, None))
    reply.webhooks.append(
        (
            "pull_request_review",
            repo,
            lambda i: payloads.review_event(call.world, i, repo, pull, review, "dismissed", sender),
        )
    )
    return reply


def _bot(call: Call) -> str:
    return call.world.apps[call.auth.app_id or 0].bot_login


@routes.post("/repos/{owner}/{repo}/pulls", permission="pull_requests")
def create_pull(call: Call) -> Reply:
    """Open a pull request from an existing branch of the same repository; its author is
    the caller (an installation token: the app's bot). Sends `pull_request.opened`."""
    repo, body = call.require_repo(), call.json()
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    for key, value in (("title", title), ("head", head), ("base", base)):
        if not isinstance(value, str) or not value:
            raise HttpError(
                422, "Validation Failed", errors=[{"field": key, "code": "missing_field"}]
            )
    head = head.split(":", 1)[-1]
    if head not in repo.branches or base not in repo.branches:
        field = "head" if head not in repo.branches else "base"
        raise HttpError(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": field, "code": "invalid"}],
        )
    head_sha, base_tip = repo.branches[head], repo.branches[base]
    reachable = ancestors(call.world, base_tip)
    commits = [sha for sha in call.world.commits if sha in ancestors(call.world, head_sha)]
    commits = [sha for sha in commits if sha not in reachable]
    if not commits:
        raise HttpError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "PullRequest",
                    "code": "custom",
                    "message": f"No commits between {base} and {head}",
                }
            ],
        )
    author, now = _bot(call), call.world.now()
    pull = Pull(
        number=repo.next_number,
        id=call.world.next_id(),
        title=title,
        body=str(body.get("body") or ""),
        author=author,
        head_ref=head,
        head_sha=head_sha,
        base_ref=base,
        base_sha=merge_base(call.world, base_tip, head_sha) or base_tip,
        commits=commits,
        labels=[],
        draft=bool(body.get("draft")),
        created_at=now,
        updated_at=now,
    )
    repo.next_number += 1
    repo.pulls[pull.number] = pull
    reply = Reply(201, render.pull(call.world, repo, pull))
    reply.webhooks.append(
        (
            "pull_request",
            repo,
            lambda i: payloads.pull_request_event(call.world, i, repo, pull, "opened", author),
        )
    )
    return reply
