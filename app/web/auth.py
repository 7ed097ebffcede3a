"""Who may read decision pages and the audit: the operator's admin token, for now."""

from __future__ import annotations

import hmac

from flask import abort, request

from app.services import services


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
