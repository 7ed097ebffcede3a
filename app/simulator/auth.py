"""Authentication and authorisation as GitHub does them for apps.

App JWTs (RS256, verified with the app's public key, `iss` the app id or client id,
`exp` at most 10 minutes ahead and at most 10 minutes after `iat`) for `/app/**`, only
under the `Bearer` scheme: GitHub answers a JWT sent as `token <JWT>` with 401 "A JSON
web token could not be decoded". Installation tokens (unexpired, not revoked; `token` or
`Bearer`) for the rest, scoped to repositories (404 outside them, as GitHub hides what a
token cannot see) and to permissions (403 "Resource not accessible by integration").
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from app.simulator.http import ANY, APP, INSTALLATION, Auth, Call, HttpError, Route
from app.simulator.model import App, Repo, Token
from app.simulator.world import World, permits

MAX_JWT_LIFETIME = 600
CLOCK_LEEWAY = 60
NOT_ACCESSIBLE = "Resource not accessible by integration"
JWT_UNDECODABLE = "A JSON web token could not be decoded"


def credentials(header: str | None) -> tuple[str, str] | None:
    """The (scheme, credential) of `Authorization: token X` or `Bearer X`; scheme lowered."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() not in ("token", "bearer") or not value.strip():
        raise HttpError(401, "Bad credentials")
    return scheme.lower(), value.strip()


def authenticate(world: World, header: str | None) -> Auth:
    """Who is calling; raises 401 for presented credentials that are not valid."""
    presented = credentials(header)
    if presented is None:
        return Auth("none")
    scheme, value = presented
    if value.count(".") == 2:
        if scheme != "bearer":
            raise HttpError(401, JWT_UNDECODABLE)
        app = verify_app_jwt(world, value)
        return Auth("app", app_id=app.id)
    with world.lock:
        if value in world.oauth.user_tokens:
            login, app_id = world.oauth.user_tokens[value]
            return Auth("user", app_id=app_id, login=login)
        token = world.tokens.get(value)
        if token is None or token.revoked or token.expires_at <= world.now():
            raise HttpError(401, "Bad credentials")
        installation = world.installations.get(token.installation_id)
        if installation is None or installation.suspended:
            raise HttpError(401, "Bad credentials")
        return Auth("installation", installation.app_id, installation.id, token)


def verify_app_jwt(world: World, value: str) -> App:
    try:
        unverified: dict[str, Any] = jwt.decode(value, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise HttpError(401, JWT_UNDECODABLE) from None
    app = _app_for_issuer(world, unverified.get("iss"))
    if app is None:
        raise HttpError(401, "'Issuer' claim ('iss') must be an Integer")
    try:
        claims = jwt.decode(
            value,
            app.public_key,
            algorithms=["RS256"],
            options={"require": ["exp", "iat", "iss"]},
            leeway=CLOCK_LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise HttpError(401, "'Expiration time' claim ('exp') must be in the future") from None
    except jwt.ImmatureSignatureError:
        raise HttpError(
            401, "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        ) from None
    except jwt.PyJWTError:
        raise HttpError(401, JWT_UNDECODABLE) from None
    if claims["exp"] > time.time() + MAX_JWT_LIFETIME or claims["exp"] - claims["iat"] > (
        MAX_JWT_LIFETIME
    ):
        raise HttpError(
            401, "'Expiration time' claim ('exp') is too far in the future (at most 10 minutes)"
        )
    return app


def _app_for_issuer(world: World, issuer: Any) -> App | None:
    with world.lock:
        for app in world.apps.values():
            if str(issuer) in (str(app.id), app.client_id):
                return app
    return None


def visible(world: World, token: Token, repo: Repo) -> bool:
    """Whether the token's installation and repository list include `repo`."""
    installation = world.installations[token.installation_id]
    if repo not in world.installation_repos(installation):
        return False
    return token.repositories is None or repo.full_name.lower() in token.repositories


def authorize(world: World, route: Route, call: Call) -> None:
    """Raise the error GitHub would give this caller for this route, else resolve the repo."""
    kind = call.auth.kind
    if route.auth == APP and kind != "app":
        raise HttpError(401, JWT_UNDECODABLE)
    if route.auth == ANY:
        return
    if route.auth == INSTALLATION and kind != "installation":
        raise HttpError(401, "Requires authentication")
    params = call.params
    if "owner" in params and "repo" in params:
        call.repo = world.repos.get(f"{params['owner']}/{params['repo']}".lower())
        if call.repo is None:
            raise HttpError(404, "Not Found")
    token = call.auth.token
    if route.auth != INSTALLATION or token is None:
        return
    if call.repo is not None and not visible(world, token, call.repo):
        raise HttpError(404, "Not Found")
    installation = world.installations[token.installation_id]
    if "org" in params and params["org"].lower() != installation.account.lower():
        raise HttpError(404, "Not Found")
    access = route.access or ("read" if call.method in ("GET", "HEAD") else "write")
    granted = {**token.permissions}
    granted.setdefault("metadata", "read")
    if route.permissions and not any(permits(granted, {p: access}) for p in route.permissions):
        raise HttpError(403, NOT_ACCESSIBLE)
