"""Shared state across processes: Redis when REDIS_URL is set, else the SQL database.

Delivery de-duplication, the installation-token cache, ETag caches, per-PR locks and
rate-limit windows live here, never in process memory.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import redis
from sqlalchemy import Engine, Float, String, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.errors import TransientError


class SharedStateUnavailable(TransientError):
    """The shared state store (Redis or the database) could not be reached."""


class KeyValue(Base):
    """The SQL fallback of the shared state (no REDIS_URL)."""

    __tablename__ = "shared_state"
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[float] = mapped_column(Float, index=True)


class SharedState(Protocol):
    def add_if_absent(self, key: str, value: str, ttl: float) -> bool:
        """Set `key` only when it is absent (or expired); True when this call set it."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: float) -> None: ...

    def delete(self, key: str, value: str | None = None) -> bool:
        """Delete `key`; with `value`, only when it still holds that value."""

    def incr(self, key: str, ttl: float) -> int:
        """Increment a counter that expires `ttl` seconds after its creation."""

    def ping(self) -> None:
        """Raise SharedStateUnavailable when the store cannot be reached."""


# Set KEYS[1] when absent and push ARGV[3] onto the list KEYS[2], as one atomic step;
# else answer what KEYS[1] holds.
_ADD_AND_PUSH = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[3])
  return false
end
return redis.call('GET', KEYS[1])
"""


class RedisState:
    def __init__(self, client: redis.Redis, prefix: str = "foureyes:") -> None:
        self.client = client
        self.prefix = prefix
        self._add_and_push = client.register_script(_ADD_AND_PUSH)

    @classmethod
    def from_url(cls, url: str) -> RedisState:
        return cls(
            redis.Redis.from_url(
                url, socket_timeout=5, socket_connect_timeout=2, decode_responses=True
            )
        )

    def _k(self, key: str) -> str:
        return self.prefix + key

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise SharedStateUnavailable(f"redis unavailable: {exc}") from exc

    def add_if_absent(self, key: str, value: str, ttl: float) -> bool:
        with self._guard():
            return bool(self.client.set(self._k(key), value, nx=True, px=int(ttl * 1000)))

    def add_and_push(
        self, key: str, value: str, ttl: float, list_key: str, item: str
    ) -> str | None:
        """Set `key` when absent and push `item` onto the list `list_key` (unprefixed: a
        broker queue), both or neither. None when done, else what `key` holds."""
        with self._guard():
            return self._add_and_push(
                keys=[self._k(key), list_key], args=[value, int(ttl * 1000), item]
            )

    def get(self, key: str) -> str | None:
        with self._guard():
            return self.client.get(self._k(key))

    def set(self, key: str, value: str, ttl: float) -> None:
        with self._guard():
            self.client.set(self._k(key), value, px=int(ttl * 1000))

    def delete(self, key: str, value: str | None = None) -> bool:
        with self._guard():
            if value is None:
                return bool(self.client.delete(self._k(key)))
            script = (
                "if redis.call('get', KEYS[1]) == ARGV[1] then "
                "return redis.call('del', KEYS[1]) else return 0 end"
            )
            return bool(self.client.eval(script, 1, self._k(key), value))

    def incr(self, key: str, ttl: float) -> int:
        with self._guard():
            pipe = self.client.pipeline()
            pipe.incr(self._k(key))
            pipe.pexpire(self._k(key), int(ttl * 1000), nx=True)
            count, _ = pipe.execute()
            return int(count)

    def ping(self) -> None:
        with self._guard():
            self.client.ping()


class SqlState:
    """Shared state in the SQL database, for the embedded single-machine default."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _guard(self) -> Iterator[None]:
        from sqlalchemy.exc import OperationalError

        try:
            yield
        except OperationalError as exc:
            raise SharedStateUnavailable(f"database unavailable: {exc}") from exc

    def add_if_absent(self, key: str, value: str, ttl: float) -> bool:
        now = time.time()
        with self._guard(), self.engine.begin() as conn:
            conn.execute(delete(KeyValue).where(KeyValue.key == key, KeyValue.expires_at <= now))
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(KeyValue).values(key=key, value=value, expires_at=now + ttl)
                    )
            except IntegrityError:
                return False
            return True

    def get(self, key: str) -> str | None:
        with self._guard(), self.engine.connect() as conn:
            row = conn.execute(
                select(KeyValue.value).where(KeyValue.key == key, KeyValue.expires_at > time.time())
            ).first()
            return row[0] if row else None

    def set(self, key: str, value: str, ttl: float) -> None:
        expires_at = time.time() + ttl
        with self._guard(), self.engine.begin() as conn:
            changed = conn.execute(
                update(KeyValue)
                .where(KeyValue.key == key)
                .values(value=value, expires_at=expires_at)
            ).rowcount
            if not changed:
                conn.execute(insert(KeyValue).values(key=key, value=value, expires_at=expires_at))

    def delete(self, key: str, value: str | None = None) -> bool:
        condition = [KeyValue.key == key]
        if value is not None:
            condition.append(KeyValue.value == value)
        with self._guard(), self.engine.begin() as conn:
            return bool(conn.execute(delete(KeyValue).where(*condition)).rowcount)

    def incr(self, key: str, ttl: float) -> int:
        now = time.time()
        with self._guard(), self.engine.begin() as conn:
            conn.execute(delete(KeyValue).where(KeyValue.key == key, KeyValue.expires_at <= now))
            row = conn.execute(select(KeyValue.value).where(KeyValue.key == key)).first()
            count = int(row[0]) + 1 if row else 1
            if row:
                conn.execute(update(KeyValue).where(KeyValue.key == key).values(value=str(count)))
            else:
                conn.execute(insert(KeyValue).values(key=key, value="1", expires_at=now + ttl))
            return count

    def ping(self) -> None:
        from sqlalchemy import text

        with self._guard(), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


@contextmanager
def held_lock(state: SharedState, name: str, ttl: float) -> Iterator[bool]:
    """A best-effort mutual-exclusion lock with an expiry (a dead holder frees it).

    Yields whether this caller holds the lock; releases only its own hold.
    """
    token = secrets.token_hex(16)
    acquired = state.add_if_absent(f"lock:{name}", token, ttl)
    try:
        yield acquired
    finally:
        if acquired:
            state.delete(f"lock:{name}", token)
