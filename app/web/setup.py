"""One-click registration (GitHub's manifest flow, as Probot does it), in setup mode only.

With no APP_ID, `/` and `/setup` show a button that posts `app.yml`, completed with this
server's URLs, to GitHub's "new app" page, with a one-time CSRF `state` that is also
held in a cookie. GitHub creates the app and redirects to `/setup/callback?code&state`;
the code is exchanged (`POST /app-manifests/{code}/conversions`, no authentication) for
the app's id, key, webhook secret and OAuth credentials, which are written to `.env` in
the working directory (mode 0600 from creation; other lines kept). The operator then
installs the app and restarts. Outside setup mode these pages answer 404, except the
static after-install page `/setup/installed`. No secret is ever logged.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import structlog
from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    make_response,
    render_template_string,
    request,
)
from githubkit import GitHub
from githubkit.exception import GitHubException

from app.config import Settings, read_env_file
from app.envfile import write_env
from app.errors import ConfigError
from app.manifest import load_manifest
from app.services import services

bp = Blueprint("setup", __name__)
log = structlog.get_logger()

STATE_TTL = 3600
STATE_COOKIE = "foureyes_setup_state"
ORG_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
MAX_APP_NAME = 34
# Endpoints that need a registered app answer 503 in setup mode, naming the way out.
NEEDS_APP = ("/api/tokens",)


def env_path() -> Path:
    """The `.env` that `Settings.from_env()` reads: in the working directory."""
    return Path.cwd() / ".env"


def github_web_url(api_url: str) -> str:
    """github.com for api.github.com, the host for GHES (`/api/v3`) and GHE.com (`api.`)."""
    api_url = api_url.rstrip("/")
    host = urlsplit(api_url).hostname or ""
    if host == "api.github.com":
        return "https://github.com"
    if api_url.endswith("/api/v3"):
        return api_url.removesuffix("/api/v3")
    if host.startswith("api.") and host.endswith(".ghe.com"):
        return api_url.replace("://api.", "://", 1)
    return api_url


def new_app_url(settings: Settings, org: str | None, state: str) -> str:
    web = github_web_url(settings.github_api_url)
    where = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
    return f"{web}{where}?{urlencode({'state': state})}"


def build_manifest(settings: Settings, name: str | None = None) -> dict[str, Any]:
    """`app.yml` with this server's webhook, redirect, setup and callback URLs."""
    manifest = load_manifest()
    base = settings.foureyes_url
    manifest["name"] = name or manifest.get("name") or "foureyes"
    manifest["hook_attributes"] = {
        **(manifest.get("hook_attributes") or {}),
        "url": f"{base}/api/github/webhooks",
    }
    manifest["redirect_url"] = f"{base}/setup/callback"
    manifest["setup_url"] = f"{base}/setup/installed"
    # The GitHub sign-in of the pages (`app.web.login`) returns there.
    manifest["callback_urls"] = [f"{base}/login/callback"]
    return manifest


def registered_app_id() -> str | None:
    """APP_ID already in `.env`: registered, waiting for a restart."""
    path = env_path()
    return read_env_file(path).get("APP_ID") if path.is_file() else None


def _require_setup_mode() -> Settings:
    settings = services().settings
    if not settings.setup_mode:
        abort(404)
    return settings


@bp.before_app_request
def _refuse_without_app() -> tuple[Response, int] | None:
    if services().settings.setup_mode and request.path.startswith(NEEDS_APP):
        return jsonify(
            error="setup_mode", reason="foureyes is not registered yet: open /setup"
        ), 503
    return None


@bp.get("/")
@bp.get("/setup")
def setup_page() -> Response:
    settings = _require_setup_mode()
    registered = registered_app_id()
    if registered:
        return make_response(render_template_string(REGISTERED, app_id=registered))
    org = (request.args.get("org") or "").strip() or None
    if org is not None and not ORG_NAME.fullmatch(org):
        abort(400, description="not an organisation name")
    name = (request.args.get("name") or "").strip()[:MAX_APP_NAME] or None
    try:
        manifest = build_manifest(settings, name)
    except ConfigError as exc:
        abort(500, description=str(exc))
    state = secrets.token_urlsafe(32)
    services().state.set(f"setup:state:{state}", org or "", STATE_TTL)
    page = render_template_string(
        SETUP,
        action=new_app_url(settings, org, state),
        manifest=json.dumps(manifest),
        org=org or "",
        name=manifest["name"],
        hook=manifest["hook_attributes"]["url"],
    )
    response = make_response(page)
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=STATE_TTL,
        path="/setup",
        httponly=True,
        samesite="Lax",
        secure=settings.foureyes_url.startswith("https://"),
    )
    return response


def _state_valid(state: str) -> bool:
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        return False
    # One use only: a replayed callback finds the state gone.
    return services().state.delete(f"setup:state:{state}")


@bp.get("/setup/callback")
def callback() -> tuple[str, int] | Response:
    settings = _require_setup_mode()
    if not _state_valid(request.args.get("state", "")):
        log.warning("setup.bad_state")
        abort(403, description="the state does not match this browser's: start again at /setup")
    code = request.args.get("code", "")
    if not CODE.fullmatch(code):
        abort(400, description="the code from GitHub is missing or malformed")
    if registered_app_id():
        abort(409, description="an app is already registered in .env: restart foureyes")
    # The app's User-Agent, as on its other calls: GitHub asks for one naming the caller.
    github = GitHub(
        base_url=settings.github_api_url,
        auto_retry=False,
        http_cache=False,
        user_agent="foureyes",
    )
    try:
        app = github.rest.apps.create_from_manifest(code).json()
    except GitHubException as exc:
        log.warning("setup.conversion_failed", error=type(exc).__name__)
        abort(502, description="GitHub did not accept the code (used or expired): start again")
    write_env(
        env_path(),
        {
            "APP_ID": str(app["id"]),
            "PRIVATE_KEY": app["pem"],
            "WEBHOOK_SECRET": app["webhook_secret"],
            "GITHUB_CLIENT_ID": app["client_id"],
            "GITHUB_CLIENT_SECRET": app["client_secret"],
        },
    )
    log.info("setup.registered", app_id=app["id"], slug=app.get("slug"), env=str(env_path()))
    return render_template_string(
        DONE,
        name=app.get("name") or app.get("slug"),
        app_id=app["id"],
        install_url=f"{app['html_url'].rstrip('/')}/installations/new",
        env=str(env_path()),
    ), 200


@bp.get("/setup/installed")
def installed() -> str:
    """Where GitHub sends the installer (the manifest's `setup_url`): what to do next."""
    return render_template_string(INSTALLED, setup_mode=services().settings.setup_mode)


STYLE = """<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;
padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}button{font-size:1rem;padding:.5rem 1rem}
fieldset{border:1px solid #ccc;margin:1rem 0}</style>"""

SETUP = (
    """<!doctype html><html><head><meta charset="utf-8"><title>Register foureyes</title>"""
    + STYLE
    + """</head><body>
<h1>Register foureyes on GitHub</h1>
<p>foureyes has no <code>APP_ID</code> yet. This creates its GitHub App from
<code>app.yml</code> in one click; webhooks will go to <code>{{ hook }}</code>.</p>
<form method="post" action="{{ action }}" id="register">
  <input type="hidden" name="manifest" value="{{ manifest }}">
  <button type="submit">Create the app "{{ name }}" on GitHub
    {%- if org %} for {{ org }}{% endif %}</button>
</form>
<form method="get" action="/setup">
  <fieldset><legend>Options</legend>
  <label>Organisation (empty: your own account)
    <input name="org" value="{{ org }}" pattern="[A-Za-z0-9-]{1,39}"></label><br>
  <label>App name (must be unique on GitHub) <input name="name" value="{{ name }}"
    maxlength="34"></label>
  <button type="submit">Update</button></fieldset>
</form>
</body></html>"""
)

DONE = (
    """<!doctype html><html><head><meta charset="utf-8"><title>foureyes registered</title>"""
    + STYLE
    + """</head><body>
<h1>Registered "{{ name }}" (app id {{ app_id }})</h1>
<p>Its id, private key, webhook secret and OAuth credentials are in <code>{{ env }}</code>
(readable by you only). Keep that file out of version control.</p>
<ol>
  <li><a href="{{ install_url }}">Install the app</a> on the repositories its agents work in.</li>
  <li>Restart <code>foureyes serve</code> (Ctrl-C, then run it again): it reads
      <code>.env</code> on start and leaves setup mode.</li>
  <li>Require the <code>foureyes</code> check in a ruleset, then run
      <code>foureyes doctor</code> to see that the gate is really enforced.</li>
</ol>
</body></html>"""
)

REGISTERED = (
    """<!doctype html><html><head><meta charset="utf-8"><title>foureyes registered</title>"""
    + STYLE
    + """</head><body>
<h1>foureyes is registered (app id {{ app_id }})</h1>
<p><code>.env</code> holds the app's credentials: restart <code>foureyes serve</code> to
leave setup mode.</p>
</body></html>"""
)

INSTALLED = (
    """<!doctype html><html><head><meta charset="utf-8"><title>foureyes installed</title>"""
    + STYLE
    + """</head><body>
<h1>foureyes is installed</h1>
{% if setup_mode %}<p>Restart <code>foureyes serve</code> so it reads <code>.env</code>.</p>
{% endif %}
<p>Next, make the gate binding: in each repository (or the organisation),
Settings → Rules → Rulesets → New branch ruleset, target the default branch, enable
"Require status checks to pass", add <code>foureyes</code> and choose the foureyes app as
its source. Then run <code>foureyes doctor</code>.</p>
</body></html>"""
)
