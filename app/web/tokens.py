"""The token broker's HTTP surface: `POST /api/tokens`, `DELETE /api/tokens/<id>`, and the
page an escalation links to. Errors are JSON: `{"error": ..., "reason": ...}`.

With FOUREYES_TRUSTED_ISSUERS unset the broker is off and answers 503 `broker_off`
(not 404, which means "foureyes is not installed on that repository").
"""

from __future__ import annotations

from html import escape
from typing import Any

import structlog
from flask import Blueprint, Response, jsonify, request
from githubkit.exception import RequestFailed

from app import metrics
from app.errors import DeniedError, GoneError, IdentityError, TransientError
from app.github.answers import github_said
from app.identity import broker
from app.identity.binding import approve_command
from app.identity.escalation import digest
from app.identity.models import AgentToken, Escalation
from app.identity.request import MAX_BODY_BYTES, MalformedRequest, parse_token_request
from app.identity.revoke import mark_due
from app.services import services

bp = Blueprint("tokens", __name__)
log = structlog.get_logger()


def _error(status: int, error: str, reason: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(error=error, reason=reason, **extra), status


def _body() -> bytes | None:
    """The body, or None when it is larger than the broker accepts."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None
    body = request.stream.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


@bp.post("/api/tokens")
def create() -> tuple[Response, int]:
    deps = services()
    body = _body()
    if body is None:
        return _error(413, "too_large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        identity = broker.authenticate(deps, request.headers.get("Authorization"))
        broker.check_rate(deps, identity)
        token_request = parse_token_request(body)
        issued = broker.request_token(deps, identity, token_request)
    except broker.BrokerOff as exc:
        return _error(503, "broker_off", str(exc))
    except IdentityError as exc:
        metrics.TOKENS.labels("unauthenticated").inc()
        log.info("broker.unauthenticated", reason=str(exc))
        return _error(401, "unauthenticated", str(exc))
    except broker.RateLimited as exc:
        response, status = _error(429, "rate_limited", str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response, status
    except MalformedRequest as exc:
        return _error(400, "malformed", str(exc))
    except broker.NotInstalled as exc:
        return _error(404, "not_installed", str(exc))
    except broker.EscalationRequired as exc:
        return _error(
            403,
            "escalation_required",
            str(exc),
            escalation={"id": exc.escalation_id, "url": exc.url},
        )
    except DeniedError as exc:
        return _error(403, "denied", str(exc))
    except TransientError as exc:
        log.warning("broker.unavailable", error=str(exc))
        response, status = _error(503, "unavailable", str(exc))
        response.headers["Retry-After"] = str(int(exc.retry_after or 30))
        return response, status
    except GoneError as exc:
        # The repository (or the installation) is not visible to the app after all.
        return _error(404, "not_installed", github_said(exc))
    except RequestFailed as exc:
        # GitHub refused what the broker asked for it: no token, and the agent is told
        # why instead of a bare 500.
        reason = github_said(exc)
        log.warning("broker.github_refused", error=reason)
        return _error(502, "github_refused", reason)
    return jsonify(issued.as_json()), 201


@bp.delete("/api/tokens/<token_id>")
def revoke(token_id: str) -> tuple[Response, int]:
    """Revoke early, by the identity the token was issued to (same `iss` and `sub`)."""
    from workers.tokens import revoke_agent_token

    deps = services()
    try:
        identity = broker.authenticate(deps, request.headers.get("Authorization"))
        broker.check_rate(deps, identity)
    except broker.BrokerOff as exc:
        return _error(503, "broker_off", str(exc))
    except IdentityError as exc:
        return _error(401, "unauthenticated", str(exc))
    except broker.RateLimited as exc:
        response, status = _error(429, "rate_limited", str(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response, status
    except TransientError as exc:
        return _error(503, "unavailable", str(exc))
    with deps.sessions() as session:
        row = session.get(AgentToken, token_id[:64])
        if row is None or (row.issuer, row.subject) != (identity.issuer, identity.subject):
            # Another identity's token is as invisible as a token that does not exist.
            return _error(404, "not_found", "no such token for this identity")
        already = row.revoked_at is not None
    if not already:
        mark_due(deps, [token_id], "revoked by the agent")
        try:
            revoke_agent_token.delay(token_id)
        except Exception as exc:
            # Marked due: the 30 s sweep revokes it even when the queue is down.
            log.error("broker.revoke_not_queued", token_id=token_id, error=type(exc).__name__)
    return Response(status=204), 204


@bp.get("/escalations/<escalation_id>")
def escalation_page(escalation_id: str) -> Response:
    """What an escalation asks and where it stands. The id is an unguessable secret link."""
    with services().sessions() as session:
        escalation = session.get(Escalation, escalation_id[:64])
    if escalation is None:
        return Response("<!doctype html><p>No such escalation.</p>", status=404)
    scope = ", ".join(f"{n}: {lvl}" for n, lvl in sorted(escalation.permissions.items()))
    issue = (
        f"issue #{escalation.issue_number} of that repository"
        if escalation.issue_number
        else "an issue being opened in that repository"
    )
    return Response(
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>foureyes escalation</title><h1>Escalation {escape(escalation.id)}</h1>"
        f"<p>Status: <strong>{escape(escalation.status)}</strong></p>"
        f"<p>{escape(escalation.agent)} asks for <code>{escape(scope)}</code> on "
        f"<code>{escape(escalation.repository)}</code>.</p>"
        f"<p>Request digest: <code>{escape(digest(escalation))}</code>. A human decides on "
        f"{issue} with <code>{escape(approve_command(digest(escalation)))}</code> or "
        "<code>/foureyes deny</code>, after checking that the issue asks what this page "
        "says.</p></html>"
    )
