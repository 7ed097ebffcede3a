"""Writing a branch through the API, and the repository's activity (who pushed what).

`PUT /repos/{owner}/{repo}/contents/{path}` commits one file to a branch: the push of an
app's installation token. GitHub then sends `push` and, for every open pull request
whose head is that branch, `pull_request.synchronize`; both name the token's bot as
`sender` (and `pusher`), whatever author and committer the request wrote into the commit.
`POST /repos/{owner}/{repo}/git/refs` creates a branch. `GET /repos/{owner}/{repo}/activity`
lists who pushed, from GitHub's own records.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from app.simulator import payloads, render
from app.simulator.history import ZERO, Activity, history, record_push
from app.simulator.http import Call, HttpError, Reply, Routes, paginate
from app.simulator.model import Installation, Pull, Repo
from app.simulator.world import World, blob_sha

routes = Routes()
NOREPLY_DOMAINS = ("users.noreply.github.com", "users.noreply.simulator")
ACTIVITY_TYPES = ("push", "force_push", "branch_creation", "branch_deletion", "pr_merge")


def linked_login(world: World, person: dict[str, Any] | None) -> str | None:
    """The account GitHub links a commit e-mail to: a no-reply address names it
    (`<id>+<login>@users.noreply.github.com`); any other address links to nobody here."""
    email = str((person or {}).get("email") or "")
    local, _, domain = email.rpartition("@")
    if domain.lower() not in NOREPLY_DOMAINS:
        return None
    login = local.split("+", 1)[-1]
    found = world.user(login)
    return found.login if found else None


def _bot(call: Call) -> str:
    return call.world.apps[call.auth.app_id or 0].bot_login


def _invalid(field: str, code: str = "missing_field") -> HttpError:
    return HttpError(422, "Invalid request.", errors=[{"field": field, "code": code}])


@routes.put("/repos/{owner}/{repo}/contents/{path+}", permission="contents")
def put_content(call: Call) -> Reply:
    repo, body = call.require_repo(), call.json()
    path = call.params["path"].strip("/")
    for key in ("message", "content"):
        if not isinstance(body.get(key), str):
            raise _invalid(key)
    try:
        content = base64.b64decode(body["content"], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid("content", "invalid") from None
    branch = str(body.get("branch") or repo.default_branch)
    if branch not in repo.branches:
        raise HttpError(404, f"Branch {branch} not found")
    before = repo.branches[branch]
    current = call.world.commits[before].tree.get(path)
    if current is not None and body.get("sha") != blob_sha(current):
        if "sha" not in body:
            raise HttpError(422, '"sha" wasn\'t supplied.')
        raise HttpError(409, f"{path} does not match {body.get('sha')}")
    bot = _bot(call)
    committer = linked_login(call.world, body.get("committer")) if "committer" in body else bot
    author = linked_login(call.world, body.get("author")) if "author" in body else committer
    commit = call.world.add_commit(
        before, {path: content}, author=author, committer=committer, message=body["message"]
    )
    repo.branches[branch] = commit.sha
    record_push(call.world, repo, branch, before, commit.sha, bot)
    reply = Reply(200 if current is not None else 201, _file_commit(call, repo, path, commit.sha))
    reply.webhooks.append(
        (
            "push",
            repo,
            lambda i: payloads.push_event(call.world, i, repo, branch, before, [commit], bot),
        )
    )
    for pull in sorted(repo.pulls.values(), key=lambda p: p.number):
        if pull.state == "open" and pull.head_ref == branch:
            pull.commits.append(commit.sha)
            pull.head_sha, pull.updated_at = commit.sha, call.world.now()
            reply.webhooks.append(("pull_request", repo, _synchronize(call, repo, pull, before)))
    return reply


def _synchronize(call: Call, repo: Repo, pull: Pull, before: str) -> Any:
    after = pull.head_sha

    def build(installation: Installation | None) -> dict[str, Any]:
        return payloads.pull_request_event(
            call.world,
            installation,
            repo,
            pull,
            "synchronize",
            _bot(call),
            before=before,
            after=after,
        )

    return build


def _file_commit(call: Call, repo: Repo, path: str, sha: str) -> dict[str, Any]:
    commit = call.world.commits[sha]
    api = f"{call.base_url}/repos/{repo.full_name}"

    def person(login: str | None) -> dict[str, Any]:
        name = login or "Someone"
        return {
            "name": name,
            "email": f"{name}@users.noreply.simulator",
            "date": render.iso(commit.created_at),
        }

    content = commit.tree[path]
    return {
        "content": {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": blob_sha(content),
            "size": len(content.encode()),
            "url": f"{api}/contents/{path}",
            "type": "file",
        },
        "commit": {
            "sha": sha,
            "node_id": render.node_id("C", int(sha[:8], 16)),
            "url": f"{api}/git/commits/{sha}",
            "html_url": f"{call.base_url}/{repo.full_name}/commit/{sha}",
            "author": person(commit.author),
            "committer": person(commit.committer),
            "message": commit.message,
            "parents": [
                {"sha": parent, "url": f"{api}/git/commits/{parent}"} for parent in commit.parents
            ],
        },
    }


@routes.get("/repos/{owner}/{repo}/activity", permission="metadata")
def list_activities(call: Call) -> Reply:
    repo = call.require_repo()
    ref = call.query.get("ref")
    if ref and not ref.startswith("refs/"):
        ref = f"refs/heads/{ref}"
    kind = call.query.get("activity_type")
    if kind is not None and kind not in ACTIVITY_TYPES:
        raise HttpError(422, "Validation Failed")
    actor = call.query.get("actor")
    items = [
        item
        for item in history(call.world).activities
        if item.repo == repo.full_name.lower()
        and (not ref or item.ref == ref)
        and (not kind or item.activity_type == kind)
        and (not actor or item.actor.lower() == actor.lower())
    ]
    if call.query.get("direction", "desc") != "asc":
        items.reverse()
    reply = paginate(call, items)
    reply.body = [_activity(call.world, item) for item in reply.body]
    return reply


def _activity(world: World, item: Activity) -> dict[str, Any]:
    return {
        "id": item.id,
        "node_id": render.node_id("RA", item.id),
        "before": item.before,
        "after": item.after,
        "ref": item.ref,
        "timestamp": render.iso(item.timestamp),
        "activity_type": item.activity_type,
        "actor": render.user(world, item.actor),
    }


@routes.post("/repos/{owner}/{repo}/git/refs", permission="contents")
def create_ref(call: Call) -> Reply:
    """Create a branch at a commit: `push` (created, no new commits) with the caller as
    sender and pusher."""
    repo, body = call.require_repo(), call.json()
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not ref.startswith("refs/") or ref.count("/") < 2:
        raise HttpError(
            422, "Reference name must start with 'refs/' and have at least two slashes."
        )
    commit = call.world.resolve(repo, sha) if isinstance(sha, str) and len(sha) == 40 else None
    if commit is None:
        raise HttpError(422, "Object does not exist")
    if not ref.startswith("refs/heads/"):
        raise HttpError(422, "Only branches can be created here")
    branch = ref.removeprefix("refs/heads/")
    if branch in repo.branches:
        raise HttpError(422, "Reference already exists")
    repo.branches[branch] = commit.sha
    bot = _bot(call)
    record_push(call.world, repo, branch, None, commit.sha, bot)
    api = f"{call.base_url}/repos/{repo.full_name}"

    def build(installation: Installation | None) -> dict[str, Any]:
        payload = payloads.push_event(call.world, installation, repo, branch, ZERO, [], bot)
        payload.update(after=commit.sha, created=True, head_commit=None)
        return payload

    reply = Reply(
        201,
        {
            "ref": ref,
            "node_id": render.node_id("REF", commit.created_at.toordinal()),
            "url": f"{api}/git/refs/heads/{branch}",
            "object": {
                "type": "commit",
                "sha": commit.sha,
                "url": f"{api}/git/commits/{commit.sha}",
            },
        },
    )
    reply.webhooks.append(("push", repo, build))
    return reply
