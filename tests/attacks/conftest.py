"""Attacks are driven through the real gate path: signed webhooks into the Flask intake,
eager Celery tasks, the simulator over HTTP (`tests/unit/github/conftest.py`'s `Gate`)."""

from tests.unit.github.conftest import gate  # noqa: F401 - the shared fixture
