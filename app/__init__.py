"""foureyes: the four-eyes principle for autonomous coding agents, as a GitHub App."""

from __future__ import annotations

from flask import Flask

from app.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """The Flask application factory (`gunicorn 'app:create_app()'`)."""
    from app.logging import ensure_logging
    from app.migrate import upgrade
    from app.services import build_services
    from app.web import register_blueprints
    from workers import celery_init_app

    settings = settings or Settings.from_env()
    settings.require_runnable()
    ensure_logging()
    flask_app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    flask_app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024
    services = build_services(settings)
    upgrade(services.engine, settings.instance_path)
    flask_app.extensions["foureyes"] = services
    celery_init_app(flask_app, settings)
    register_blueprints(flask_app)
    if settings.setup_mode:
        from app.web.setup import announce

        announce(settings)
    return flask_app
