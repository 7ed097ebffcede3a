"""One task base class: the same retries, logging, metrics and error outcomes for every task.

- `TransientError` (GitHub 5xx after the client's two quick retries, a timeout, either
  rate limit, an unreachable Redis or database): the task defers itself with
  `self.retry(countdown=...)`, exponential backoff with full jitter and never sooner
  than GitHub's retry-after. The worker is free meanwhile: no sleep.
- `GoneError` (an uninstalled app, a deleted repository or pull request): the work is
  dropped with a structured `task.dropped` log line and a metric. No audit event: the
  contract has no type for it, and nothing about the repository changed.
- Retries exhausted: `task.gave_up` (error level) names what was lost; the scheduled
  reconciliation re-evaluates what the task would have fixed.
- A worker killed mid-task: `acks_late` and `reject_on_worker_lost` put the message back
  (after the broker's visibility timeout) and the task runs again; every task is
  idempotent, so the second run has no duplicate effect. A `leased` task (a delivery's
  handling, an evaluation) is put back within a lease and a sweep (`workers/leases.py`).
- Redis down mid-task (state and broker both): the retry cannot be queued, and Celery
  would drop the task; it is requeued instead (or left to the visibility timeout).
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import structlog
from celery import Task
from celery.exceptions import Reject
from prometheus_client import Counter

from app.errors import GoneError, TransientError
from app.services import services
from app.state import SharedState
from workers.leases import held_lease

log = structlog.get_logger()

MAX_BACKOFF = 600.0
# A countdown is held by the worker as an unacknowledged message: beyond the broker's
# visibility timeout Redis would hand it to a second worker as well. Stay below it.
VISIBILITY_SHARE = 0.8

TASK_RETRIES = Counter(
    "foureyes_task_retries_total", "Tasks deferred after a transient error", ["task"]
)
TASK_DROPPED = Counter(
    "foureyes_task_dropped_total",
    "Tasks dropped: their installation, repository or pull request is gone",
    ["task"],
)
TASK_GAVE_UP = Counter(
    "foureyes_task_gave_up_total", "Tasks that failed after their last retry", ["task"]
)


@contextmanager
def task_lock(state: SharedState, name: str, owner: str | None, ttl: float) -> Iterator[bool]:
    """`app.state.held_lock`, held in the name of a task run (`owner`: the task's id).

    A worker killed mid-task leaves its lock until the TTL ends; the same task,
    redelivered, takes its own lock over at once instead of waiting that out (only a
    redelivery carries the same task id, and its first run is dead by then).
    Yields whether this run holds the lock; releases only its own hold.
    """
    key, token = f"lock:{name}", str(owner or secrets.token_hex(16))
    acquired = state.add_if_absent(key, token, ttl) or state.get(key) == token
    if acquired:
        state.set(key, token, ttl)
    try:
        yield acquired
    finally:
        if acquired:
            state.delete(key, token)


def backoff(retries: int, retry_after: float | None = None, ceiling: float = MAX_BACKOFF) -> float:
    """Exponential backoff with full jitter; never sooner than GitHub's retry-after.

    Both are bounded by `ceiling`: a rate limit that resets in an hour is retried
    sooner, meets the limit again (which costs nothing) and defers once more.
    """
    top = min(ceiling, 2.0 ** (retries + 1))
    delay = random.uniform(top / 2, top)  # noqa: S311 - jitter, not a secret
    return min(max(delay, retry_after or 0.0), ceiling)


def visibility_ceiling(options: dict[str, Any] | None) -> float:
    """The longest countdown of a deferred task: safe for the broker's visibility timeout
    (if it has one), and at most `FOUREYES_MAX_RETRY_DELAY` seconds when that is set."""
    timeout = (options or {}).get("visibility_timeout")
    ceiling = min(MAX_BACKOFF, float(timeout) * VISIBILITY_SHARE) if timeout else MAX_BACKOFF
    configured = os.environ.get("FOUREYES_MAX_RETRY_DELAY")
    return min(ceiling, float(configured)) if configured else ceiling


class FoureyesTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 12
    # Hold a lease while running, so a dead worker's run is handed out again in seconds.
    leased = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # A task run inline by another (eager mode) gives the caller its log context back.
        outer = structlog.contextvars.get_contextvars()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task=self.name, task_id=self.request.id)
        try:
            with self._lease():
                return super().__call__(*args, **kwargs)
        except TransientError as exc:
            return self._defer(exc)
        except GoneError as exc:
            TASK_DROPPED.labels(self.name).inc()
            log.warning("task.dropped", reason=str(exc), outcome="dropped, not retried")
            return None
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**outer)

    def _lease(self) -> AbstractContextManager[None]:
        if not self.leased or self.request.is_eager or not self.request.id:
            return nullcontext()
        return held_lease(services().state, self.request.id, self.name)

    def _defer(self, exc: TransientError) -> Any:
        attempt = self.request.retries + 1
        if self.max_retries is not None and self.request.retries >= self.max_retries:
            TASK_GAVE_UP.labels(self.name).inc()
            log.error(
                "task.gave_up",
                error=str(exc),
                attempts=attempt,
                outcome="failed; the scheduled reconciliation repairs the gate",
            )
            raise exc
        ceiling = visibility_ceiling(self.app.conf.broker_transport_options)
        delay = backoff(self.request.retries, exc.retry_after, ceiling)
        TASK_RETRIES.labels(self.name).inc()
        log.warning(
            "task.retry",
            error=str(exc),
            retry_in=round(delay, 1),
            attempt=attempt,
            retry_after=exc.retry_after,
        )
        try:
            raise self.retry(exc=exc, countdown=delay) from exc
        except Reject as not_queued:
            # Celery could not queue the retry (the broker is down too) and would drop the
            # task. Put it back instead: requeued now if Redis answers again, else left
            # unacknowledged, and Redis hands it out after the visibility timeout.
            log.error(
                "task.retry_not_queued",
                error=str(not_queued.reason),
                outcome="requeued; runs again once the broker is back",
            )
            raise Reject(not_queued.reason, requeue=True) from exc
