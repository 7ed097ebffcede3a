"""The task base class: transient errors defer the task with backoff (never sooner than
GitHub's retry-after, never past the broker's visibility timeout), gone work is dropped,
exhausted retries say so, and a task's lock outlives a killed worker only for others."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.exceptions import Reject

from app.db import make_engine
from app.errors import GoneError, TransientError
from app.migrate import upgrade
from app.state import SqlState
from workers.base import (
    TASK_DROPPED,
    TASK_GAVE_UP,
    FoureyesTask,
    backoff,
    task_lock,
    visibility_ceiling,
)


def celery_app(visibility_timeout: int = 300) -> Celery:
    # Eager without propagation: `apply()` runs every retry inline and returns the outcome.
    app = Celery("test-base", task_cls=FoureyesTask, set_as_current=False)
    app.conf.update(
        task_always_eager=True,
        task_eager_propagates=False,
        broker_transport_options={"visibility_timeout": visibility_timeout},
    )
    return app


def failing_task(app: Celery, errors: list[Exception], max_retries: int = 12):
    calls: list[int] = []

    @app.task(bind=True, name=f"test.flaky.{id(calls)}", max_retries=max_retries)
    def flaky(self):
        calls.append(self.request.retries)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "evaluated"

    return flaky, calls


def test_transient_errors_defer_the_task_until_it_succeeds(task_log):
    task, calls = failing_task(
        celery_app(),
        [
            TransientError("GitHub answered 502 for /repos/acme/widgets/pulls/1"),
            TransientError("GitHub rate limit on GET /repos/acme/widgets", retry_after=45),
        ],
    )
    result = task.apply()
    assert (result.state, result.result) == ("SUCCESS", "evaluated")
    assert calls == [0, 1, 2]
    first, second = task_log("task.retry")
    assert 1 <= first["retry_in"] <= 2  # 2 ** 1 with full jitter
    assert second["retry_in"] >= 45  # GitHub's retry-after wins over a shorter backoff
    assert "502" in first["error"] and second["attempt"] == 2


def test_a_countdown_stays_below_the_visibility_timeout(task_log):
    # A longer countdown would make Redis hand the held message to a second worker.
    task, _ = failing_task(
        celery_app(visibility_timeout=20),
        [TransientError("GitHub rate limit on GET /x", retry_after=3600)],
    )
    task.apply()
    (retry,) = task_log("task.retry")
    assert retry["retry_in"] <= 16


def test_exhausted_retries_fail_the_task_and_say_so(task_log):
    before = TASK_GAVE_UP.labels("x")._value.get()
    task, calls = failing_task(
        celery_app(), [TransientError(f"GitHub answered 503 ({n})") for n in range(5)], 2
    )
    result = task.apply()
    assert result.state == "FAILURE"
    assert isinstance(result.result, TransientError)
    assert calls == [0, 1, 2]
    (gave_up,) = task_log("task.gave_up")
    assert gave_up["log_level"] == "error" and "reconciliation" in gave_up["outcome"]
    assert TASK_GAVE_UP.labels(task.name)._value.get() == 1
    assert TASK_GAVE_UP.labels("x")._value.get() == before


def test_gone_work_is_dropped_without_retry(task_log):
    task, calls = failing_task(celery_app(), [GoneError("GitHub answered 404 for /repos/a/b")])
    result = task.apply()
    assert (result.state, result.result) == ("SUCCESS", None)
    assert calls == [0]
    (dropped,) = task_log("task.dropped")
    assert "404" in dropped["reason"]
    assert TASK_DROPPED.labels(task.name)._value.get() == 1


@pytest.mark.parametrize("retries_so_far", range(12))
def test_backoff_grows_exponentially_with_full_jitter(retries_so_far):
    top = min(600.0, 2.0 ** (retries_so_far + 1))
    delays = [backoff(retries_so_far) for _ in range(50)]
    assert all(top / 2 <= delay <= top for delay in delays)
    assert len(set(delays)) > 1  # jittered: a burst of failures does not retry in lockstep


def test_visibility_ceiling():
    assert visibility_ceiling({"visibility_timeout": 300}) == 240
    assert visibility_ceiling({"visibility_timeout": 3600}) == 600
    assert visibility_ceiling({}) == 600
    assert backoff(0, retry_after=900, ceiling=240) == 240


def test_the_longest_retry_delay_can_be_set_below_the_visibility_share(monkeypatch):
    monkeypatch.setenv("FOUREYES_MAX_RETRY_DELAY", "12")
    assert visibility_ceiling({"visibility_timeout": 300}) == 12
    assert visibility_ceiling({}) == 12


@pytest.fixture
def state(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    upgrade(engine, tmp_path)
    yield SqlState(engine)
    engine.dispose()


def test_a_task_lock_excludes_other_runs_and_is_released(state):
    with task_lock(state, "pr:acme/widgets#1", "task-a", 60) as held:
        assert held
        with task_lock(state, "pr:acme/widgets#1", "task-b", 60) as other:
            assert not other
        with task_lock(state, "pr:acme/widgets#1", None, 60) as anonymous:
            assert not anonymous
    with task_lock(state, "pr:acme/widgets#1", "task-b", 60) as held:
        assert held


def test_a_redelivered_task_takes_over_the_lock_its_killed_run_left(state):
    # The first run's worker was killed: its hold stays until the TTL ends...
    state.add_if_absent("lock:pr:acme/widgets#1", "task-a", 120)
    with task_lock(state, "pr:acme/widgets#1", "task-b", 60) as other:
        assert not other
    # ...but the same task, delivered again, need not wait for it.
    with task_lock(state, "pr:acme/widgets#1", "task-a", 60) as held:
        assert held
    assert state.get("lock:pr:acme/widgets#1") is None


def test_a_retry_that_cannot_be_queued_requeues_the_task_instead_of_dropping_it(task_log):
    # Redis (state and broker at once) went away mid-task: Celery cannot queue the retry.
    app = Celery("test-broker-down", task_cls=FoureyesTask, set_as_current=False)
    app.conf.update(
        broker_url="redis://127.0.0.1:1/0",  # nothing listens there
        task_publish_retry=False,
        broker_connection_timeout=1,
    )

    @app.task(bind=True, name="test.needs_redis")
    def needs_redis(self):
        raise TransientError("redis unavailable: Error 111 connecting to 127.0.0.1:6379")

    needs_redis.push_request(
        id="task-1", retries=0, is_eager=False, called_directly=False, delivery_info={}
    )
    try:
        with pytest.raises(Reject) as rejected:
            needs_redis()
    finally:
        needs_redis.pop_request()
    assert rejected.value.requeue is True
    (logged,) = task_log("task.retry_not_queued")
    assert "requeued" in logged["outcome"]
