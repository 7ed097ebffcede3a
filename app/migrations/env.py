"""Alembic environment: migrates `app.db.Base.metadata` on the engine foureyes passes in."""

from alembic import context

import app.models  # noqa: F401 - registers every table on Base.metadata
from app.db import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
