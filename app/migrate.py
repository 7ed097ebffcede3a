"""Bring the database schema to the newest Alembic revision, safely from many processes."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@contextmanager
def _upgrade_lock(engine: Engine, lock_dir: Path) -> Iterator[None]:
    """Serialise concurrent upgrades: a PostgreSQL advisory lock, else a file lock."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(4242)"))
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(4242)"))
                conn.commit()
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / "migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, lock_dir: Path) -> None:
    with _upgrade_lock(engine, lock_dir):
        command.upgrade(alembic_config(engine), "heads")
