"""Who may read decision pages and the audit.

The audit API takes the operator's admin token only. A pull request's page is also
open to anyone signed in with GitHub (`app.web.login`) who can read the repository:
checked with their own user token (`GET /repos/{owner}/{repo}` answers 200 only then),
and the answer kept in the session for a few minutes.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import structlog
from flask import Response, abort, redirect, request, session

from app.services import services
from app.web.login import github_client, sign_in_configured, signed_in

log = structlog.get_logger()

READABLE_FOR = 300.0  # seconds a "can read" answer is trusted
UNREADABLE_FOR = 60.0  # a "cannot read" one: access may just have been granted
MAX_CACHED = 32  # repositories remembered per session (the cookie stays small)


def admin_token_presented() -> bool:
    """Constant-time check of `Authorization: Bearer <FOUREYES_ADMIN_TOKEN>`."""
    configured = services().settings.admin_token
    header = request.headers.get("Authorization", "")
    if not configured or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), configured.encode())


def require_admin() -> None:
    """Abort unless the admin token was presented: 403 when none is configured, else 401."""
    if not services().settings.admin_token:
        abort(403, description="FOUREYES_ADMIN_TOKEN is not configured on this server")
    if not admin_token_presented():
        abort(401, description="present the admin token: Authorization: Bearer <token>")


@dataclass(frozen=True)
class Viewer:
    """Who is reading: a GitHub login, or the operator (`admin`)."""

    login: str | None
    admin: bool = False


def can_read(login: str, token: str, repository: str) -> bool | None:
    """Whether the user token reads `repository` (cached in the session); None when the
    token no longer works (revoked: sign in again)."""
    key = repository.lower()
    cache: dict[str, list[float | bool]] = session.get("access") or {}
    entry = cache.get(key)
    if entry and float(entry[1]) > time.time():
        return bool(entry[0])
    api = services().settings.github_api_url
    owner, name = repository.split("/", 1)
    with github_client() as client:
        answer = client.get(
            f"{api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}",
            headers={"Authorization": f"Bearer {token}"},
        )
    if answer.status_code == 401:
        return None
    if answer.status_code >= 500:
        raise httpx.HTTPStatusError("GitHub failed", request=answer.request, response=answer)
    readable = answer.status_code == 200
    cache = {k: v for k, v in cache.items() if float(v[1]) > time.time()}
    while len(cache) >= MAX_CACHED:
        cache.pop(next(iter(cache)))
    cache[key] = [readable, time.time() + (READABLE_FOR if readable else UNREADABLE_FOR)]
    session["access"] = cache
    log.info("page.access_checked", login=login, repository=repository, readable=readable)
    return readable


def _html(status: int, message: str, link: str = "") -> Response:
    from html import escape

    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>foureyes</title>"
        f"<p>{escape(message)}</p>{link}</html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def repository_reader(repository: str) -> Viewer | Response:
    """The viewer allowed to read `repository`'s pages, or the answer to give instead:
    401 for a wrong admin token, a redirect to sign in, 403 for a user who cannot read."""
    settings = services().settings
    if request.headers.get("Authorization"):
        if admin_token_presented():
            return Viewer(login=None, admin=True)
        return _html(401, "The Authorization header does not carry the admin token.")
    visitor = signed_in()
    if visitor is not None:
        login, token = visitor
        try:
            readable = can_read(login, token, repository)
        except httpx.HTTPError as exc:
            log.warning("page.access_unknown", repository=repository, error=type(exc).__name__)
            return _html(503, "GitHub could not be asked whether you can read this repository.")
        if readable:
            return Viewer(login=login)
        if readable is False:
            return _html(403, f"{login} cannot read {repository} on GitHub.")
        session.clear()
    if sign_in_configured(settings) and settings.app_id is not None:
        return redirect(f"/login?next={quote(request.full_path.rstrip('?'), safe='/')}")
    if settings.admin_token:
        return _html(401, "Present the admin token: Authorization: Bearer <token>.")
    return _html(403, "Neither GitHub sign-in nor an admin token is configured on this server.")
