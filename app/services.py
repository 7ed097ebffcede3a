"""The dependencies every handler and task is given: built once per process from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.errors import ConfigError
from app.github.client import GitHubApp
from app.state import RedisState, SharedState, SqlState


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    state: SharedState
    _github: GitHubApp | None = field(default=None, repr=False)

    @property
    def github(self) -> GitHubApp:
        if self._github is None:
            raise ConfigError("foureyes is in setup mode (no APP_ID): GitHub is not configured")
        return self._github


def build_services(settings: Settings) -> Services:
    engine = make_engine(settings.database_url)
    state: SharedState = (
        RedisState.from_url(settings.redis_url) if settings.redis_url else SqlState(engine)
    )
    github = None if settings.setup_mode else GitHubApp(settings, state)
    return Services(settings, engine, make_session_factory(engine), state, github)


def services() -> Services:
    """The current Flask app's services (inside a request or a Celery task)."""
    return current_app.extensions["foureyes"]
