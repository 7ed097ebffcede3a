"""Pull requests: list, get, commits, files, reviews, and the pulls of a commit."""

from __future__ import annotations

from app.simulator import examples, render
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
