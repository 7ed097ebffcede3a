"""One task base class: the same retries, logging and error outcomes for every task."""

from __future__ import annotations

import random
from typing import Any

import structlog
from celery import Task

from app.errors import GoneError, TransientError

log = structlog.get_logger()

MAX_BACKOFF = 600.0


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; never sooner than GitHub's retry-after."""
    ceiling = min(MAX_BACKOFF, 2.0 ** (retries + 1))
    delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret
    return max(delay, retry_after or 0.0)


class FoureyesTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = 12

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task=self.name, task_id=self.request.id)
        try:
            return super().__call__(*args, **kwargs)
        except TransientError as exc:
            delay = backoff(self.request.retries, exc.retry_after)
            log.warning(
                "task.retry",
                error=str(exc),
                retry_in=round(delay, 1),
                attempt=self.request.retries + 1,
            )
            raise self.retry(exc=exc, countdown=delay) from exc
        except GoneError as exc:
            log.info("task.dropped", reason=str(exc))
            return None
