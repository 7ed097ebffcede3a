"""The audit job: append one queued event to the hash-chained log.

It runs on its own `audit` queue (workers/__init__.py routes `workers.audit.*`), is
acknowledged only after the append committed (acks_late), and retries a transient
database failure with backoff for as long as it takes: the event's key makes a
redelivered or retried job a no-op once the event is in the log.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.audit.append import append
from app.services import services


@shared_task(name="workers.audit.append_event", acks_late=True, max_retries=None)
def append_event(event: dict[str, Any]) -> int:
    """Append `event` (built by `app.audit.emit.emit`); return its seq."""
    return append(services().engine, event)
