"""Flask blueprints: webhooks, the token broker, pages, setup, the audit API."""

from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


def register_blueprints(flask_app: Flask) -> None:
    from app.web import audit_api, health, login, pages, setup, tokens, webhooks

    for module in (health, webhooks, login, pages, audit_api, tokens, setup):
        flask_app.register_blueprint(module.bp)

    @flask_app.errorhandler(HTTPException)
    def _json_errors(exc: HTTPException):  # type: ignore[no-untyped-def]
        response = jsonify(
            error=(exc.name or "error").lower().replace(" ", "_"), reason=exc.description
        )
        return response, exc.code or 500
