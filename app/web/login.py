"""Signing in with GitHub, so that maintainers read decision pages without the admin token.

The web flow of a GitHub App's user authorization: `/login` sends the browser to GitHub
with a random `state` kept in the session (against CSRF), GitHub sends it back to
`/login/callback` with a code, which is exchanged (with GITHUB_CLIENT_ID and
GITHUB_CLIENT_SECRET) for a user token; `GET /user` names the visitor. The user token is
kept only to check, page by page, that the visitor can read the repository
(`app.web.auth`); it lives in the session cookie sealed with AES-256-GCM.

The session is Flask's signed cookie (`HttpOnly`, `SameSite=Lax`, `Secure` when
FOUREYES_URL is https). Its `SECRET_KEY` and the sealing key are derived with HKDF-SHA256
from the app's private key (or, without one, WEBHOOK_SECRET): every process derives the
same keys, and rotating that key signs everyone out.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from urllib.parse import urlencode, urlsplit

import httpx
import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, Flask, Request, Response, redirect, request, session
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from app import metrics
from app.config import Settings
from app.services import services

bp = Blueprint("login", __name__)
log = structlog.get_logger()

SESSION_INFO = b"foureyes flask session v1"
TOKEN_INFO = b"foureyes session user token v1"
SIGNED_IN_FOR = 8 * 3600  # seconds a sign-in lasts, whatever the browser keeps
HTTP_TIMEOUT = 10.0
NONCE_BYTES = 12


def github_web_url(api_url: str) -> str:
    """github.com for api.github.com, `https://HOST` for GHES' `https://HOST/api/v3`,
    `SUB.ghe.com` for `api.SUB.ghe.com`; any other URL (the simulator) serves both."""
    parts = urlsplit(api_url.rstrip("/"))
    host = parts.netloc
    if host.startswith("api."):
        return f"{parts.scheme}://{host.removeprefix('api.')}"
    if parts.path.endswith("/api/v3"):
        return f"{parts.scheme}://{host}{parts.path.removesuffix('/api/v3')}"
    return api_url.rstrip("/")


def _key_material(settings: Settings) -> bytes | None:
    secret = settings.private_key or settings.webhook_secret
    return secret.strip().encode() if secret else None


def _derive(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, less the signer for a request without cookies
    (every webhook delivery and API call): it would find nothing to verify and cost the
    intake about 4% of its CPU (docs/benchmarks.md)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def configure_sessions(flask_app: Flask, settings: Settings) -> None:
    """Signed, HttpOnly, SameSite=Lax session cookies; no key material, no sessions."""
    flask_app.session_interface = CookieSessions()
    material = _key_material(settings)
    if material is not None:
        flask_app.config["SECRET_KEY"] = _derive(material, SESSION_INFO)
    flask_app.config.update(
        SESSION_COOKIE_NAME="foureyes_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.foureyes_url.startswith("https://"),
    )


@bp.record_once
def _on_register(state: BlueprintSetupState) -> None:
    configure_sessions(state.app, state.app.extensions["foureyes"].settings)


def sign_in_configured(settings: Settings) -> bool:
    return bool(settings.github_client_id and settings.github_client_secret)


def _aead(settings: Settings) -> AESGCM:
    material = _key_material(settings)
    if material is None:
        raise RuntimeError("no key material for sessions")
    return AESGCM(_derive(material, TOKEN_INFO))


def seal(settings: Settings, token: str, login: str) -> str:
    """The user token encrypted for the cookie, bound to the login it belongs to."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = nonce + _aead(settings).encrypt(nonce, token.encode(), login.encode())
    return base64.urlsafe_b64encode(sealed).decode()


def unseal(settings: Settings, sealed: str, login: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = _aead(settings).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], login.encode())
    except (InvalidTag, ValueError):
        return None
    return plain.decode()


def signed_in() -> tuple[str, str] | None:
    """(login, user token) of the visitor signed in with GitHub, or None."""
    login, sealed, since = session.get("login"), session.get("token"), session.get("since", 0)
    if not isinstance(login, str) or not isinstance(sealed, str):
        return None
    if not isinstance(since, int | float) or time.time() - since > SIGNED_IN_FOR:
        return None
    token = unseal(services().settings, sealed, login)
    return (login, token) if token else None


def safe_next(target: str | None) -> str:
    """A path on this site to return to after signing in; never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or urlsplit(target).netloc:
        return "/"
    return target


def github_client() -> httpx.Client:
    """A client for the user-token calls; they are counted like the app's own."""
    return httpx.Client(
        timeout=HTTP_TIMEOUT,
        headers={"User-Agent": "foureyes", "Accept": "application/json"},
        event_hooks={"response": [metrics.record_github_response]},
    )


def _page(status: int, message: str) -> Response:
    from html import escape

    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>foureyes: sign in</title>"
        f"<p>{escape(message)}</p><p><a href='/login'>Sign in with GitHub</a></p></html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


@bp.get("/login")
def login() -> Response:
    settings = services().settings
    if not sign_in_configured(settings) or _key_material(settings) is None:
        return _page(404, "Signing in with GitHub is not configured on this server.")
    state = secrets.token_urlsafe(32)
    session.clear()
    session["oauth_state"] = state
    session["next"] = safe_next(request.args.get("next"))
    query = urlencode(
        {
            "client_id": settings.github_client_id,
            "redirect_uri": f"{settings.foureyes_url}/login/callback",
            "state": state,
        }
    )
    return redirect(f"{github_web_url(settings.github_api_url)}/login/oauth/authorize?{query}")


@bp.get("/login/callback")
def callback() -> Response:
    settings = services().settings
    if not sign_in_configured(settings):
        return _page(404, "Signing in with GitHub is not configured on this server.")
    expected = session.pop("oauth_state", None)
    target = safe_next(session.pop("next", None))
    given = request.args.get("state", "")
    if not expected or not hmac.compare_digest(str(expected).encode(), given.encode()):
        log.warning("login.bad_state")
        return _page(400, "This sign-in link is stale or was not started here; try again.")
    code = request.args.get("code", "")
    if not code:
        return _page(400, "GitHub did not send a code; try again.")
    try:
        login_name, token = _exchange(settings, code)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        log.warning("login.failed", error=type(exc).__name__)
        return _page(502, "Signing in with GitHub failed; try again.")
    session.clear()
    session.update(login=login_name, token=seal(settings, token, login_name), since=time.time())
    session["access"] = {}
    log.info("login.signed_in", login=login_name)
    return redirect(target)


def _exchange(settings: Settings, code: str) -> tuple[str, str]:
    """The user token for `code`, and the login it belongs to."""
    with github_client() as client:
        answer = client.post(
            f"{github_web_url(settings.github_api_url)}/login/oauth/access_token",
            data={
                "client_id": settings.github_client_id,
                "client_secret": settings.github_client_secret,
                "code": code,
                "redirect_uri": f"{settings.foureyes_url}/login/callback",
            },
        )
        answer.raise_for_status()
        body = answer.json()
        if "access_token" not in body:
            raise ValueError(f"GitHub refused the code: {body.get('error')}")
        token = str(body["access_token"])
        user = client.get(
            f"{settings.github_api_url}/user", headers={"Authorization": f"Bearer {token}"}
        )
        user.raise_for_status()
        return str(user.json()["login"]), token


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(safe_next(request.form.get("next")))
