"""Imports every table so that `Base.metadata` is complete (Alembic, tests)."""

from app.state import KeyValue

__all__ = ["KeyValue"]
