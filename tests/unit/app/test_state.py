"""Shared state behaves the same on Redis and on the SQL fallback."""

import time
import uuid

import pytest

from app.db import make_engine
from app.migrate import upgrade
from app.state import RedisState, SharedStateUnavailable, SqlState, held_lock


@pytest.fixture(params=["sql", "redis"])
def state(request, tmp_path):
    if request.param == "sql":
        engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
        upgrade(engine, tmp_path)
        return SqlState(engine)
    url = request.getfixturevalue("redis_url")
    store = RedisState.from_url(url)
    store.prefix = f"test:{uuid.uuid4().hex}:"
    return store


def test_add_if_absent_is_exclusive_until_expiry(state):
    assert state.add_if_absent("delivery:1", "a", 0.3)
    assert not state.add_if_absent("delivery:1", "b", 0.3)
    assert state.get("delivery:1") == "a"
    time.sleep(0.4)
    assert state.get("delivery:1") is None
    assert state.add_if_absent("delivery:1", "c", 10)


def test_delete_only_own_value(state):
    state.set("lock", "mine", 10)
    assert not state.delete("lock", "theirs")
    assert state.get("lock") == "mine"
    assert state.delete("lock", "mine")
    assert state.get("lock") is None


def test_set_overwrites_and_incr_counts(state):
    state.set("k", "1", 10)
    state.set("k", "2", 10)
    assert state.get("k") == "2"
    assert [state.incr("rate", 10) for _ in range(3)] == [1, 2, 3]


def test_lock_excludes_a_second_holder_and_frees_on_exit(state):
    with held_lock(state, "pr", 10) as first, held_lock(state, "pr", 10) as second:
        assert first and not second
    with held_lock(state, "pr", 10) as again:
        assert again


def test_unreachable_redis_is_reported_as_unavailable():
    store = RedisState.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(SharedStateUnavailable):
        store.add_if_absent("x", "1", 1)
