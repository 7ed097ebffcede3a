"""One-click registration (GitHub's manifest flow, as Probot does it), in setup mode only.

With no APP_ID, the server prints a one-time setup code on its console at start, in the
log line that tells the operator to open the page (`setup.open`). `/` and `/setup` ask
for it: whoever reaches the page first must not register their own app in this server's
`.env` (they would hold its private key). With the code (`POST /setup`), the page shows
a button that posts `app.yml`, completed with this server's URLs, to GitHub's "new app"
page, with a one-time CSRF `state` that is also held in a cookie. GitHub creates the app
and redirects to `/setup/callback?code&state`; the code is exchanged
(`POST /app-manifests/{code}/conversions`, no authentication) for the app's id, key,
webhook secret and OAuth credentials, which are written to `.env` in the working
directory (mode 0600 from creation; other lines kept), and the setup code is spent.
The code lives in `instance/setup-code` (mode 0600), so every web process shows the same. The
operator then installs the app and restarts. Outside setup mode these pages answer 404,
except the static after-install page `/setup/installed`. No secret but the setup code
(on the console, by design) is ever logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import secrets
import time
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
from app.manifest import load_manifest, permission_reasons
from app.services import services
from app.web.setup_pages import CODE_PAGE, DONE, INSTALLED, REGISTERED, SETUP

bp = Blueprint("setup", __name__)
log = structlog.get_logger()

STATE_TTL = 3600
STATE_COOKIE = "foureyes_setup_state"
ORG_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
CODE = re.compile(r"[A-Za-z0-9_-]{1,200}")
MAX_APP_NAME = 34
SETUP_CODE_FILE = "setup-code"
MAX_CODE_ATTEMPTS = 20  # wrong codes per minute, all visitors together
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


def unreachable_from_github(url: str) -> str | None:
    """Why GitHub cannot deliver webhooks to `url` (a loopback or private address), with
    the two usual ways out; None when it may well reach it."""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
        private = address.is_private or address.is_loopback or address.is_link_local
    except ValueError:
        private = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    if not private:
        return None
    port = urlsplit(url).port or (443 if url.startswith("https") else 80)
    return (
        f"GitHub cannot reach {url}: it is an address of this machine or its network. "
        f"Expose it with a tunnel (`cloudflared tunnel --url http://localhost:{port}` or "
        f"`ngrok http {port}`), set FOUREYES_URL to the public https URL the tunnel prints, "
        "and restart foureyes serve before you register."
    )


def new_app_url(settings: Settings, org: str | None, state: str) -> str:
    web = github_web_url(settings.github_api_url)
    where = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
    return f"{web}{where}?{urlencode({'state': state})}"


def build_manifest(settings: Settings, name: str | None = None) -> dict[str, Any]:
    """`app.yml` with this server's webhook, redirect, setup and callback URLs."""
    manifest = load_manifest()
    base = settings.foureyes_url
    manifest["name"] = name or manifest.get("name") or "foureyes"
    manifest["url"] = base  # the app's homepage on GitHub: this server, no one else's
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


def _code_path(settings: Settings) -> Path:
    return settings.instance_path / SETUP_CODE_FILE


def setup_code(settings: Settings) -> str:
    """The one-time setup code: made once, in a 0600 file of the instance folder, so every
    web process of this server (and a restart before registering) shows the same one."""
    path = _code_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f"{SETUP_CODE_FILE}.{secrets.token_hex(8)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(12))
    try:
        os.link(draft, path)  # atomic: the first process's code wins
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


def announce(settings: Settings) -> None:
    """Tell the operator, on the server's console, where to register and with which code."""
    log.warning(
        "setup.open",
        url=f"{settings.foureyes_url}/setup",
        setup_code=setup_code(settings),
        hint="open the URL and enter the setup code to register the GitHub App",
        reachable=unreachable_from_github(settings.foureyes_url) or "yes",
    )


def _code_valid(settings: Settings, given: str) -> bool:
    state = services().state
    if state.incr(f"setup:attempts:{int(time.time() // 60)}", 120) > MAX_CODE_ATTEMPTS:
        abort(429, description="too many setup codes tried: wait a minute")
    path = _code_path(settings)
    expected = path.read_text().strip() if path.is_file() else ""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


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
def code_page() -> Response:
    """Ask for the setup code printed on the server's console."""
    _require_setup_mode()
    registered = registered_app_id()
    if registered:
        return make_response(render_template_string(REGISTERED, app_id=registered))
    org = (request.args.get("org") or "").strip()
    name = (request.args.get("name") or "").strip()[:MAX_APP_NAME]
    return make_response(render_template_string(CODE_PAGE, org=org, name=name, wrong=False))


@bp.post("/setup")
def setup_page() -> Response | tuple[str, int]:
    settings = _require_setup_mode()
    registered = registered_app_id()
    if registered:
        return make_response(render_template_string(REGISTERED, app_id=registered))
    form_org = (request.form.get("org") or "").strip()
    form_name = (request.form.get("name") or "").strip()[:MAX_APP_NAME]
    given = request.form.get("setup_code") or ""
    if not _code_valid(settings, given):
        log.warning("setup.bad_code")
        page = render_template_string(CODE_PAGE, org=form_org, name=form_name, wrong=True)
        return page, 403
    org = form_org or None
    problem = None
    if org is not None and not ORG_NAME.fullmatch(org):
        problem = f"{org!r} is not an organisation name (letters, digits and single hyphens)"
        org = None
    name = form_name or None
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
        org=form_org if problem else org or "",
        name=manifest["name"],
        hook=manifest["hook_attributes"]["url"],
        setup_code=given.strip(),
        problem=problem,
        unreachable=unreachable_from_github(settings.foureyes_url),
        permissions=permission_reasons(),
    )
    response = make_response(page, 400 if problem else 200)
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
    _code_path(settings).unlink(missing_ok=True)  # one time: spent by the registration
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
