"""Fixtures for the audit tests: a migrated database (SQLite file or a fresh PostgreSQL
database), and a Flask app in eager mode on top of it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.config import Settings
from app.db import make_engine
from app.migrate import upgrade

_POSTGRES = make_url(os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"))
# SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3; the dev extras install psycopg2.
if _POSTGRES.drivername == "postgresql":
    _POSTGRES = _POSTGRES.set(drivername="postgresql+psycopg2")
POSTGRES_ADMIN_URL = _POSTGRES.render_as_string(hide_password=False)
ADMIN_TOKEN = "admin-token-for-audit-tests"


def unavailable(what: str, error: Exception) -> None:
    """Skip with the reason, except in CI, where a missing service is a failure."""
    reason = f"{what} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("CI"):
        pytest.fail(reason)
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"foureyes_audit_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable("PostgreSQL", exc)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A migrated audit database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = make_engine(url)
    upgrade(engine, tmp_path)
    engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    engine = make_engine(url)
    upgrade(engine, tmp_path)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def app_settings(tmp_path, database_url: str, **extra: str) -> Settings:
    return Settings.from_mapping(
        {
            "DATABASE_URL": database_url,
            "FOUREYES_INSTANCE_PATH": str(tmp_path / "instance"),
            "FOUREYES_EAGER": "1",
            "FOUREYES_ADMIN_TOKEN": ADMIN_TOKEN,
            **extra,
        }
    )


@pytest.fixture
def flask_app(tmp_path, sqlite_url):
    """A setup-mode app (no GitHub) that runs audit jobs inline on a SQLite file."""
    flask_app = create_app(app_settings(tmp_path, sqlite_url))
    yield flask_app
    flask_app.extensions["foureyes"].engine.dispose()
