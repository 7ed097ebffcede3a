"""Apps and installations: `/app/**`, installation tokens, `/installation/**`."""

from __future__ import annotations

from typing import Any

from app.simulator import examples, render
from app.simulator.http import APP, INSTALLATION, Call, HttpError, Reply, Routes, paginate
from app.simulator.model import Installation, Token
from app.simulator.world import World, permits

routes = Routes()


def _own_installation(call: Call) -> Installation:
    installation = call.world.installations.get(call.number("installation_id"))
    if installation is None or installation.app_id != call.auth.app_id:
        raise HttpError(404, "Not Found")
    return installation


@routes.get("/app", auth=APP)
def get_app(call: Call) -> Reply:
    return Reply(200, render.app(call.world, call.world.apps[call.auth.app_id]))


@routes.get("/app/installations", auth=APP)
def list_installations(call: Call) -> Reply:
    mine = [i for i in call.world.installations.values() if i.app_id == call.auth.app_id]
    reply = paginate(call, mine)
    reply.body = [render.installation(call.world, i) for i in reply.body]
    return reply


@routes.get("/app/installations/{installation_id}", auth=APP)
def get_installation(call: Call) -> Reply:
    return Reply(200, render.installation(call.world, _own_installation(call)))


@routes.get("/repos/{owner}/{repo}/installation", auth=APP)
def get_repo_installation(call: Call) -> Reply:
    repo = call.require_repo()
    for installation in call.world.installations_for(repo.full_name):
        if installation.app_id == call.auth.app_id:
            return Reply(200, render.installation(call.world, installation))
    raise HttpError(404, "Not Found")


def _requested_repositories(
    world: World, installation: Installation, body: dict[str, Any]
) -> set[str] | None:
    names = body.get("repositories") or []
    ids = body.get("repository_ids") or []
    if not names and not ids:
        return None
    available = world.installation_repos(installation)
    by_name = {repo.name.lower(): repo for repo in available}
    by_id = {repo.id: repo for repo in available}
    selected: set[str] = set()
    for wanted in names:
        repo = by_name.get(str(wanted).lower().split("/")[-1])
        if repo is None:
            raise HttpError(
                422,
                "There is at least one repository that does not exist or is not accessible"
                " to the parent installation.",
            )
        selected.add(repo.full_name.lower())
    for wanted in ids:
        if wanted not in by_id:
            raise HttpError(422, "There is at least one repository that does not exist.")
        selected.add(by_id[wanted].full_name.lower())
    return selected


def token_body(world: World, installation: Installation, token: Token) -> dict[str, Any]:
    body = examples.rest("installation-token")
    template = body["repositories"][0]
    body.update(token=token.token, expires_at=render.iso(token.expires_at))
    body["permissions"] = dict(token.permissions)
    if token.repositories is None:
        body["repository_selection"] = "all" if installation.repositories is None else "selected"
        body.pop("repositories", None)
    else:
        body["repository_selection"] = "selected"
        body["repositories"] = [
            render.repository(world, world.repos[name], dict(template))
            for name in sorted(token.repositories)
        ]
    return body


@routes.post("/app/installations/{installation_id}/access_tokens", auth=APP)
def create_access_token(call: Call) -> Reply:
    installation = _own_installation(call)
    if installation.suspended:
        raise HttpError(403, "This installation has been suspended")
    body = call.json()
    repositories = _requested_repositories(call.world, installation, body)
    permissions = body.get("permissions")
    if permissions is not None and not (
        isinstance(permissions, dict) and permits(installation.permissions, permissions)
    ):
        raise HttpError(422, "The permissions requested are not granted to this installation.")
    token = call.world.issue_token(installation.id, repositories, permissions)
    return Reply(201, token_body(call.world, installation, token))


@routes.delete("/installation/token", auth=INSTALLATION)
def revoke_token(call: Call) -> Reply:
    if call.auth.token is not None:
        call.auth.token.revoked = True
    return Reply(204)


@routes.get("/installation/repositories", auth=INSTALLATION)
def installation_repositories(call: Call) -> Reply:
    token = call.auth.token
    installation = call.world.installations[call.auth.installation_id or 0]
    repos = [
        repo
        for repo in call.world.installation_repos(installation)
        if token is None
        or token.repositories is None
        or repo.full_name.lower() in token.repositories
    ]
    repos.sort(key=lambda repo: repo.full_name.lower())
    selection = "all" if installation.repositories is None else "selected"
    return paginate(
        call,
        repos,
        lambda chunk: {
            "total_count": len(repos),
            "repository_selection": selection,
            "repositories": [render.repository(call.world, repo) for repo in chunk],
        },
    )
