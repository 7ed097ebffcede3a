"""Preflight: check the configuration a command needs before it does anything.

Each problem is one line that names the variable and what is wrong with it
(`DATABASE_URL: cannot connect to 127.0.0.1:5999 (connection refused)`). Commands raise
`PreflightError` with every problem found; `foureyes` prints them and exits 2, with no
traceback. The web, worker and scheduler processes run the same checks at start.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from app.config import Settings
from app.errors import ConfigError

DATABASE, REDIS, GITHUB = "database", "redis", "github"
CONNECT_TIMEOUT = 3.0
# SQLAlchemy dialects whose DBAPI module foureyes does not ship, and what installs it.
DRIVER_HINTS = {
    "mysql": "pip install mysqlclient (or use mysql+pymysql:// with pymysql)",
    "mariadb": "pip install mariadb",
    "postgresql": "pip install psycopg2-binary",
    "mssql": "pip install pyodbc",
    "oracle": "pip install oracledb",
}


class PreflightError(ConfigError):
    """One or more configuration problems; `problems` are the one-line messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def require(settings: Settings, *needs: str) -> None:
    """Raise `PreflightError` listing every problem with what the command `needs`."""
    problems = check(settings, needs)
    if problems:
        raise PreflightError(problems)


def require_server(settings: Settings) -> None:
    """What the web, worker and scheduler processes need: the database, Redis when set,
    and (outside setup mode) app credentials that GitHub accepts."""
    needs = [DATABASE, REDIS] if settings.setup_mode else [DATABASE, REDIS, GITHUB]
    require(settings, *needs)


def check(settings: Settings, needs: Iterable[str]) -> list[str]:
    """The problems with the parts of `settings` that `needs` names, each one line."""
    wanted = set(needs)
    problems: list[str] = []
    if GITHUB in wanted or not settings.setup_mode:
        problems += _app_credentials(settings, reach=GITHUB in wanted)
    if DATABASE in wanted:
        problems += _database(settings.database_url)
    if REDIS in wanted and settings.redis_url:
        problems += _redis(settings.redis_url)
    return problems


def _app_credentials(settings: Settings, reach: bool) -> list[str]:
    if settings.setup_mode:
        return ["APP_ID: not set (run `foureyes serve` without it to register the app)"]
    problems = []
    if not settings.webhook_secret:
        problems.append("WEBHOOK_SECRET: required when APP_ID is set")
    if not settings.private_key:
        return [*problems, "PRIVATE_KEY: required when APP_ID is set (or PRIVATE_KEY_PATH)"]
    try:
        key = load_pem_private_key(settings.private_key.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [*problems, f"PRIVATE_KEY: not a PEM private key ({reason})"]
    if reach:
        problems += _key_matches_app(settings, key)
    return problems


def _key_matches_app(settings: Settings, key: Any) -> list[str]:
    """Whether GitHub accepts a JWT signed with the key for APP_ID; silent when unreachable
    (GitHub's own outage is not a configuration problem)."""
    now = int(time.time())
    token = jwt.encode(
        {"iat": now - 60, "exp": now + 540, "iss": str(settings.app_id)}, key, algorithm="RS256"
    )
    try:
        response = httpx.get(
            f"{settings.github_api_url.rstrip('/')}/app",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
            timeout=CONNECT_TIMEOUT,
        )
    except httpx.HTTPError:
        return []
    if response.status_code == 401:
        return [
            f"PRIVATE_KEY: GitHub at {settings.github_api_url} refuses it for APP_ID "
            f"{settings.app_id} ({_message(response)})"
        ]
    return []


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.reason_phrase))
    except ValueError:
        return response.reason_phrase


def _database(url: str) -> list[str]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from app.db import make_engine, normalise_url

    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return [f"DATABASE_URL: {url!r} is not a database URL (e.g. sqlite:///instance/f.db)"]
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        return [f"DATABASE_URL: unknown database kind {parsed.drivername!r}"]
    try:
        engine = make_engine(url)
    except (ModuleNotFoundError, ImportError) as exc:
        hint = DRIVER_HINTS.get(parsed.get_backend_name(), "install its driver")
        return [f"DATABASE_URL: the driver for {parsed.drivername} is missing ({exc.name}): {hint}"]
    except (ArgumentError, SQLAlchemyError) as exc:
        return [f"DATABASE_URL: {_first_line(exc)}"]
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        where = f"{parsed.host}:{parsed.port or ''}".rstrip(":") if parsed.host else parsed.database
        return [f"DATABASE_URL: cannot connect to {where} ({_reason(exc)})"]
    finally:
        engine.dispose()
    return []


def _redis(url: str) -> list[str]:
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
    except ValueError as exc:
        return [f"REDIS_URL: {url!r} is not a Redis URL ({exc})"]
    try:
        client.ping()
    except redis.RedisError as exc:
        kwargs = client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        return [f"REDIS_URL: cannot connect to {where} ({_reason(exc)})"]
    finally:
        client.close()
    return []


def _reason(exc: BaseException) -> str:
    """The root cause in a few words: `connection refused`, `timed out`, a server's words."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    return _first_line(getattr(exc, "orig", None) or exc).rsplit(": ", 1)[-1].lower()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_text(exc: ConfigError) -> str:
    """A configuration problem as the operator reads it: one `Error: ...` line a problem."""
    return "".join(f"Error: {line}\n" for line in str(exc).splitlines())


def guarded(run: Callable[[], object]) -> object:
    """Run `run` (a process outside the `foureyes` command: gunicorn, Celery); a
    configuration problem is printed as `Error: ...` lines and exits 2."""
    try:
        return run()
    except ConfigError as exc:
        sys.stderr.write(error_text(exc))
        raise SystemExit(2) from None
