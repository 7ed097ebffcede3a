"""Signing in with GitHub: the web flow of a GitHub App's user authorization.

`/login/oauth/authorize` stands for github.com's consent page: when someone is signed in
to the simulated github.com (`sign_in`), it sends the browser straight back to the
app's `redirect_uri` with a one-time `code` and the app's `state`. The app exchanges the
code at `/login/oauth/access_token` (with its client id and secret) for a user token,
which reads `GET /user` and `GET /repos/{owner}/{repo}`: 200 only when the user can read
the repository and the app is installed on it (a user token of an app sees no more than
both allow), else 404, as on GitHub.
"""

from __future__ import annotations

import secrets
from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.simulator import examples, render
from app.simulator.auth import authorize
from app.simulator.http import ANY, Call, HttpError, Reply, Route, Routes
from app.simulator.world import World

routes = Routes()
# GitHub's flags on a repository read with a user token, from the lowest role up.
FLAGS = ("pull", "triage", "push", "maintain", "admin")
ROLES = ("read", "triage", "write", "maintain", "admin")


def oauth_client(world: World, app_id: int) -> tuple[str, str]:
    """The app's client id and a client secret (made on first call): GITHUB_CLIENT_ID/SECRET."""
    with world.lock:
        client_id = world.apps[app_id].client_id
        secret = world.oauth.client_secrets.setdefault(client_id, secrets.token_hex(20))
        return client_id, secret


def sign_in(world: World, login: str | None) -> None:
    """Who is signed in to the simulated github.com (None: nobody) when a browser arrives."""
    with world.lock:
        if login is not None:
            world.add_user(login)
        world.oauth.browser_login = login


def _app_of_client(world: World, client_id: str) -> int | None:
    return next((a.id for a in world.apps.values() if a.client_id == client_id), None)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


@routes.get("/login/oauth/authorize", auth=ANY)
def authorize_page(call: Call) -> Reply:
    client_id = call.query.get("client_id", "")
    redirect_uri = call.query.get("redirect_uri", "")
    if _app_of_client(call.world, client_id) is None or not redirect_uri:
        raise HttpError(404, "Not Found")
    login = call.world.oauth.browser_login
    if login is None:
        page = "<!doctype html><title>Sign in to GitHub</title><h1>Sign in to GitHub</h1>"
        return Reply(200, raw=page, content_type="text/html; charset=utf-8")
    code = secrets.token_hex(10)
    call.world.oauth.codes[code] = (client_id, login, redirect_uri)
    params = {"code": code}
    if "state" in call.query:
        params["state"] = call.query["state"]
    target = _with_query(redirect_uri, **params)
    body = f'<a href="{escape(target)}">continue</a>'
    return Reply(302, raw=body, headers={"Location": target}, content_type="text/html")


@routes.post("/login/oauth/access_token", auth=ANY)
def access_token(call: Call) -> Reply:
    """The code exchange; errors are 200s with an `error` field, as GitHub answers them."""
    content_type = call.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        form = {k: str(v) for k, v in call.json().items()}
    else:
        form = dict(parse_qsl(call.body.decode("utf-8", "replace")))
    form.update(call.query)
    oauth = call.world.oauth
    client_id = form.get("client_id", "")
    expected = oauth.client_secrets.get(client_id)
    if not expected or not secrets.compare_digest(expected, form.get("client_secret", "")):
        return Reply(200, {"error": "incorrect_client_credentials"})
    found = oauth.codes.pop(form.get("code", ""), None)
    if found is None or found[0] != client_id:
        return Reply(200, {"error": "bad_verification_code"})
    if form.get("redirect_uri") and form["redirect_uri"] != found[2]:
        return Reply(200, {"error": "redirect_uri_mismatch"})
    token = "ghu_" + secrets.token_hex(18)
    app_id = _app_of_client(call.world, client_id)
    oauth.user_tokens[token] = (found[1], app_id or 0)
    return Reply(200, {"access_token": token, "token_type": "bearer", "scope": ""})


def _user_token(call: Call) -> str:
    if call.auth.kind != "user" or call.auth.login is None:
        raise HttpError(401, "Requires authentication")
    return call.auth.login


@routes.get("/user", auth=ANY)
def get_user(call: Call) -> Reply:
    login = _user_token(call)
    body = render.user(call.world, login, examples.rest("public-user-default-response"))
    body["name"] = login
    return Reply(200, body)


def _repos_route() -> Route:
    """The installation's `GET /repos/{owner}/{repo}` in `routes_repos` (read lazily: that
    module's table is built at its import)."""
    from app.simulator import routes_repos

    return next(r for r in routes_repos.routes.routes if r.template == "/repos/{owner}/{repo}")


@routes.get("/repos/{owner}/{repo}", auth=ANY)
def get_repository(call: Call) -> Reply:
    if call.auth.kind != "user":
        route = _repos_route()
        authorize(call.world, route, call)
        return route.handler(call)
    login = _user_token(call)
    world = call.world
    repo = world.repos.get(f"{call.params['owner']}/{call.params['repo']}".lower())
    if repo is None:
        raise HttpError(404, "Not Found")
    role = world.role(repo, login)
    installed = any(i.app_id == call.auth.app_id for i in world.installations_for(repo.full_name))
    if not installed or (role is None and repo.private):
        raise HttpError(404, "Not Found")
    body = render.repository(world, repo, full=True)
    rank = ROLES.index(role) if role else 0
    body["permissions"] = {flag: i <= rank for i, flag in enumerate(FLAGS)}
    return Reply(200, body)
