"""One log format per process: JSON lines on stderr in the servers (`foureyes serve`, the
web, the worker, the scheduler), human text on stderr in the other commands. structlog's
lines and the standard library's (gunicorn, Celery, Flask, Python's warnings) go through
the same renderer; libraries log at WARNING unless verbose (`foureyes --verbose`, which
sets FOUREYES_VERBOSE=1 for the processes it starts).

Context is bound per delivery or task.

A webhook delivery binds `delivery`, `installation` and `repository`; the gate's tasks
bind `installation`, `repository` and `pr`. Celery tasks run elsewhere (another process,
later), so the context bound where a task is queued travels with it in a message header
and is added to the task's log lines: an evaluation's lines carry the delivery that
caused it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Libraries whose INFO lines are noise to an operator (every HTTP request, every
# migration step, every task received, every worker booted): WARNING and above only,
# unless verbose.
QUIET_LIBRARIES = (
    "httpx",
    "httpcore",
    "alembic",
    "celery",
    "kombu",
    "gunicorn",
    "werkzeug",
    "githubkit",
)
VERBOSE_ENV = "FOUREYES_VERBOSE"
HANDLER_NAME = "foureyes"
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


def verbose_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Did the operator ask for the libraries' lines too (`foureyes --verbose`)?"""
    return (os.environ if environ is None else environ).get(VERBOSE_ENV) == "1"


def render_human(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
    """`warning: event key=value ...`: a CLI command's log line, for a person to read."""
    event_dict.pop("timestamp", None)
    level = event_dict.pop("level", method)
    event = event_dict.pop("event", "")
    exception = event_dict.pop("exception", None)
    fields = " ".join(f"{key}={value}" for key, value in event_dict.items())
    line = f"{level}: {event}" + (f" ({fields})" if fields else "")
    return f"{line}\n{exception}" if exception else line


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the process' own stderr, looked up at each line: Celery replaces
    `sys.stderr` with a proxy that logs what is written to it (a loop through this handler)."""

    def __init__(self) -> None:
        super().__init__(sys.__stderr__)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.__stderr__

    @stream.setter
    def stream(self, _value: Any) -> None:
        return None


_configured: dict[str, bool] = {}


def configure_logging(
    level: int = logging.INFO, *, human: bool = False, verbose: bool | None = None
) -> None:
    """Set this process' log format: JSON lines (servers) or `human` text (CLI commands),
    on stderr, for structlog and the standard library's loggers alike. Records below
    `level` are dropped; libraries' below WARNING too, unless `verbose` (default: as
    FOUREYES_VERBOSE says)."""
    from celery.signals import before_task_publish

    verbose = verbose_requested() if verbose is None else verbose
    if verbose:
        level = min(level, logging.INFO)
    renderer = render_human if human else structlog.processors.JSONRenderer()
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    handler = _StderrHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)
    logging.captureWarnings(True)
    before_task_publish.connect(queued_context, weak=False, dispatch_uid=CONTEXT_HEADER)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_task_context,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _configured["done"] = True


def ensure_logging() -> None:
    """JSON lines at INFO, unless this process already chose its format (a CLI command
    that builds the app keeps its human text)."""
    if not _configured:
        configure_logging()
