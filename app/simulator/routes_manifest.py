"""Registering an app from a manifest, as github.com does it, and looking apps up by slug.

The browser half: the setup page posts a form with `manifest` (JSON) to
`/settings/apps/new?state=...` (or `/organizations/{org}/settings/apps/new`); GitHub
creates the app after the user confirms, and redirects to the manifest's `redirect_url`
with `?code=...&state=...`. The simulator confirms at once and answers the 302.
The API half: `POST /app-manifests/{code}/conversions` (no authentication) turns the
code, once and within an hour, into the app's id, key, webhook secret and OAuth
credentials: GitHub's `integration-from-manifest` example patched with the new app.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from app.simulator import examples, keys, render
from app.simulator.governance import BROWSER_USER, PendingManifest, governance, new_code
from app.simulator.http import ANY, Call, HttpError, Reply, Routes

routes = Routes()
CODE_LIFETIME = timedelta(hours=1)
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    return _SLUG_JUNK.sub("-", name.lower()).strip("-")


def _manifest_from_form(call: Call) -> dict[str, Any]:
    try:
        form = parse_qs(call.body.decode("utf-8"))
        manifest = json.loads(form["manifest"][0])
    except (KeyError, ValueError, UnicodeDecodeError):
        raise HttpError(422, "Invalid GitHub App configuration: manifest is missing") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("url"), str):
        raise HttpError(422, "Invalid GitHub App configuration: url is required")
    if not isinstance(manifest.get("redirect_url"), str):
        raise HttpError(422, "Invalid GitHub App configuration: redirect_url is required")
    return manifest


def _new_app(call: Call, owner: str) -> Reply:
    manifest = _manifest_from_form(call)
    name = str(manifest.get("name") or "")
    slug = slugify(name)
    if not slug or any(app.slug == slug for app in call.world.apps.values()):
        raise HttpError(422, f"Name {name!r} is already taken or invalid")
    call.world.add_user(owner)
    code = new_code()
    governance(call.world).manifests[code] = PendingManifest(
        code=code,
        manifest=manifest,
        owner=owner,
        expires_at=call.world.now() + CODE_LIFETIME,
    )
    query = {"code": code}
    if "state" in call.query:
        query["state"] = call.query["state"]
    separator = "&" if "?" in manifest["redirect_url"] else "?"
    location = f"{manifest['redirect_url']}{separator}{urlencode(query)}"
    return Reply(302, None, {"Location": location})


@routes.post("/settings/apps/new", auth=ANY)
def new_user_app(call: Call) -> Reply:
    return _new_app(call, BROWSER_USER)


@routes.post("/organizations/{org}/settings/apps/new", auth=ANY)
def new_org_app(call: Call) -> Reply:
    return _new_app(call, call.params["org"])


@routes.post("/app-manifests/{code}/conversions", auth=ANY)
def convert(call: Call) -> Reply:
    state = governance(call.world)
    pending = state.manifests.pop(call.params["code"], None)
    if pending is None or pending.expires_at <= call.world.now():
        raise HttpError(404, "Not Found")
    manifest = pending.manifest
    hook = manifest.get("hook_attributes") or {}
    pem = keys.private_key_pem()
    webhook_secret = secrets.token_hex(20)
    credentials = call.world.add_app(
        slugify(str(manifest["name"])),
        name=str(manifest["name"]),
        owner=pending.owner,
        permissions=dict(manifest.get("default_permissions") or {}),
        events=list(manifest.get("default_events") or ()),
        webhook_url=hook.get("url") if hook.get("active", True) else None,
        webhook_secret=webhook_secret,
        private_key=pem,
    )
    app = call.world.apps[credentials.id]
    client_secret = secrets.token_hex(20)
    state.client_secrets[app.id] = client_secret
    t = examples.rest("integration-from-manifest")
    body = render.app(call.world, app, t)
    body["external_url"] = manifest["url"]
    body["description"] = str(manifest.get("description") or "")
    body.update(client_secret=client_secret, webhook_secret=webhook_secret, pem=pem)
    return Reply(201, body)


@routes.get("/apps/{app_slug}", auth=ANY)
def get_app_by_slug(call: Call) -> Reply:
    for app in call.world.apps.values():
        if app.slug == call.params["app_slug"]:
            return Reply(200, render.app(call.world, app))
    raise HttpError(404, "Not Found")
