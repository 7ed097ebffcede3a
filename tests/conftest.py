"""Fixtures shared by every test: the GitHub simulator, Redis and PostgreSQL.

- `simulator`: a started `app.simulator.Simulator` (its own empty `World`), stopped after
  the test. `world` is its state. `installed`: the `foureyes` app installed on `acme`
  with the repository `acme/widgets` (no webhook URL: helpers only build payloads, read
  them from `simulator.last_payload`). `app_github` / `installation_github`: githubkit
  clients as that app (JWT) and as its installation (a fresh installation token).
- `redis_url` / `postgres_url`: the URL when the service answers; otherwise the test is
  skipped with the reason, or fails when the `CI` environment variable is set.

End-to-end fixtures (gunicorn, workers) live in `tests/e2e/conftest.py`. Every GitHub call
the app makes in the session must be in the inventory (`tests/github_calls.py`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import jwt
import pytest
from githubkit import AppAuthStrategy, GitHub

from app.simulator import Installed, Simulator, World
from app.simulator import keys as simulator_keys
from tests.github_calls import CallCollector

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CallCollector(), "foureyes-github-calls")


@pytest.fixture(scope="session")
def app_private_key() -> str:
    """The process' simulated app key (RSA generation is slow: made once)."""
    return simulator_keys.private_key_pem()


@pytest.fixture
def simulator(app_private_key: str) -> Iterator[Simulator]:
    sim = Simulator()
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def world(simulator: Simulator) -> World:
    return simulator.world


@pytest.fixture
def installed(simulator: Simulator) -> Installed:
    simulator.add_repo("acme/widgets", files={"README.md": "# widgets\n"})
    return simulator.install(account="acme")


def app_jwt(installed: Installed, lifetime: int = 540) -> str:
    """An app JWT as githubkit's `AppAuthStrategy` makes it (iat 60 s back, 10 minutes)."""
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + lifetime, "iss": str(installed.app_id)}
    return jwt.encode(claims, installed.private_key, algorithm="RS256")


@pytest.fixture
def app_github(simulator: Simulator, installed: Installed) -> GitHub:
    auth = AppAuthStrategy(str(installed.app_id), installed.private_key)
    return GitHub(auth, base_url=simulator.url, auto_retry=False, http_cache=False)


@pytest.fixture
def installation_github(simulator: Simulator, installed: Installed, app_github: GitHub) -> GitHub:
    response = app_github.rest.apps.create_installation_access_token(installed.installation_id)
    token = response.parsed_data.token
    return GitHub(token, base_url=simulator.url, auto_retry=False, http_cache=False)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def _redis_reachable() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL} is unreachable: {exc}"
    return None


@pytest.fixture
def redis_url(_redis_reachable: str | None) -> str:
    """Redis database 15 (tests use unique key prefixes and clean up)."""
    if _redis_reachable:
        _unavailable(_redis_reachable)
    return REDIS_URL


@pytest.fixture(scope="session")
def _postgres_reachable() -> str | None:
    import sqlalchemy

    from app.db import normalise_url

    try:
        engine = sqlalchemy.create_engine(
            normalise_url(POSTGRES_URL), connect_args={"connect_timeout": 2}
        )
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}"
    return None


@pytest.fixture
def postgres_url(_postgres_reachable: str | None) -> str:
    """The test database (tests create and drop their own schema or database)."""
    if _postgres_reachable:
        _unavailable(_postgres_reachable)
    return POSTGRES_URL
