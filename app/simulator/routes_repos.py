"""Repositories, contents, collaborators, teams and users."""

from __future__ import annotations

import base64
from typing import Any

from app.simulator import examples, render
from app.simulator.http import ANY, Call, HttpError, Reply, Routes
from app.simulator.model import Repo
from app.simulator.world import blob_sha

routes = Routes()
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
# GitHub's legacy `permission` and the collaborator's `permissions` flags per role.
FLAGS = ("pull", "triage", "push", "maintain", "admin")


@routes.get("/repos/{owner}/{repo}", permission="metadata")
def get_repository(call: Call) -> Reply:
    return Reply(200, render.repository(call.world, call.require_repo(), full=True))


def _content(call: Call, repo: Repo, path: str, content: str, ref: str) -> dict[str, Any]:
    t = examples.rest("content-file-response-if-content-is-a-file")
    sha = blob_sha(content)
    api = f"{call.base_url}/repos/{repo.full_name}"
    t.update(name=path.rsplit("/", 1)[-1], path=path, sha=sha, size=len(content.encode()))
    t.update(type="file", encoding="base64", content=base64.encodebytes(content.encode()).decode())
    t["url"] = f"{api}/contents/{path}?ref={ref}"
    t["git_url"] = f"{api}/git/blobs/{sha}"
    t["html_url"] = f"{call.base_url}/{repo.full_name}/blob/{ref}/{path}"
    t["download_url"] = f"{call.base_url}/raw/{repo.full_name}/{ref}/{path}"
    t["_links"] = {"self": t["url"], "git": t["git_url"], "html": t["html_url"]}
    return t


def _entry(call: Call, repo: Repo, path: str, kind: str, ref: str, sha: str) -> dict[str, Any]:
    api = f"{call.base_url}/repos/{repo.full_name}"
    links = {
        "self": f"{api}/contents/{path}?ref={ref}",
        "git": f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}",
        "html": f"{call.base_url}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}",
    }
    return {
        "type": kind,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "size": 0,
        "url": links["self"],
        "git_url": links["git"],
        "html_url": links["html"],
        "download_url": None,
        "_links": links,
    }


@routes.get("/repos/{owner}/{repo}/contents/{path+}", permission="contents")
def get_content(call: Call) -> Reply:
    repo = call.require_repo()
    ref = call.query.get("ref") or repo.default_branch
    commit = call.world.resolve(repo, ref)
    path = call.params["path"].strip("/")
    if commit is None:
        raise HttpError(404, f"No commit found for the ref {ref}")
    if path in commit.tree:
        content = commit.tree[path]
        accept = call.headers.get("Accept", "")
        if any(accept.startswith(kind) for kind in RAW_TYPES):
            return Reply(200, raw=content, content_type="application/vnd.github.raw; charset=utf-8")
        return Reply(200, _content(call, repo, path, content, ref))
    prefix = path + "/"
    children: dict[str, str] = {}
    for name, content in commit.tree.items():
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            child = prefix + rest.split("/", 1)[0]
            children[child] = "dir" if "/" in rest else "file"
            if children[child] == "file":
                children[child] = "file:" + blob_sha(content)
    if not children:
        raise HttpError(404, "Not Found")
    return Reply(
        200,
        [
            _entry(call, repo, name, kind.split(":")[0], ref, kind.partition(":")[2] or "0" * 40)
            for name, kind in sorted(children.items())
        ],
    )


@routes.get("/repos/{owner}/{repo}/collaborators/{username}/permission", permission="metadata")
def get_permission(call: Call) -> Reply:
    repo = call.require_repo()
    login = call.params["username"]
    if call.world.user(login) is None:
        raise HttpError(404, "Not Found")
    role = call.world.role(repo, login)
    body = examples.rest(
        "repository-collaborator-permission-response-if-user-has-admin-permissions"
    )
    body["permission"] = render.LEGACY_PERMISSION.get(role or "", "none")
    body["role_name"] = role or "none"
    body["user"] = render.user(call.world, login, body["user"])
    rank = ("read", "triage", "write", "maintain", "admin").index(role) if role else -1
    body["user"]["permissions"] = {flag: i <= rank for i, flag in enumerate(FLAGS)}
    body["user"]["role_name"] = body["role_name"]
    return Reply(200, body)


@routes.get("/orgs/{org}/teams/{team_slug}/memberships/{username}", permission="members")
def get_team_membership(call: Call) -> Reply:
    org, slug, login = call.params["org"], call.params["team_slug"], call.params["username"]
    if not call.world.is_team_member(f"{org}/{slug}", login):
        raise HttpError(404, "Not Found")
    body = examples.rest("team-membership-response-if-user-is-a-team-maintainer")
    body.update(role="member", state="active")
    body["url"] = f"{call.base_url}/organizations/{org}/team/{slug}/memberships/{login}"
    return Reply(200, body)


@routes.get("/users/{username}", auth=ANY)
def get_user(call: Call) -> Reply:
    login = call.params["username"]
    if call.world.user(login) is None:
        raise HttpError(404, "Not Found")
    body = render.user(call.world, login, examples.rest("public-user-default-response"))
    body["name"] = login
    return Reply(200, body)
