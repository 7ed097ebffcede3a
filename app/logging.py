"""Structured JSON logs through structlog; context is bound per delivery or task.

A webhook delivery binds `delivery`, `installation` and `repository`; the gate's tasks
bind `installation`, `repository` and `pr`. Celery tasks run elsewhere (another process,
later), so the context bound where a task is queued travels with it in a message header
and is added to the task's log lines: an evaluation's lines carry the delivery that
caused it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Libraries whose INFO lines are noise to an operator (every HTTP request, every
# migration step): they log at WARNING and above.
QUIET_LIBRARIES = ("httpx", "httpcore", "alembic")
# The fields that travel from where a task is queued to where it runs.
CONTEXT_KEYS = ("delivery", "github_event", "installation", "repository", "pr")
CONTEXT_HEADER = "foureyes_log_context"


def queued_context(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Celery's `before_task_publish`: put the bound context into the message headers."""
    if headers is None:
        return
    bound = structlog.contextvars.get_contextvars()
    context = {key: bound[key] for key in CONTEXT_KEYS if bound.get(key) is not None}
    if context:
        headers[CONTEXT_HEADER] = context


def add_task_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: the context the running task was queued with, where the
    task has not bound the field itself."""
    from celery import current_task

    if not current_task:
        return event_dict
    context = getattr(current_task.request, CONTEXT_HEADER, None)
    if isinstance(context, dict):
        for key, value in context.items():
            event_dict.setdefault(key, value)
    return event_dict


def configure_logging(level: int = logging.INFO) -> None:
    from celery.signals import before_task_publish

    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    before_task_publish.connect(queued_context, weak=False, dispatch_uid=CONTEXT_HEADER)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_task_context,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
