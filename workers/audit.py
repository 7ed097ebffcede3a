"""The audit jobs: append one queued event to the hash-chained log; anchor its head.

It runs on its own `audit` queue (workers/__init__.py routes `workers.audit.*`), is
acknowledged only after the append committed (acks_late), and retries a transient
database failure with backoff for as long as it takes: the event's key makes a
redelivered or retried job a no-op once the event is in the log.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.audit.anchor import anchor_head
from app.audit.append import append
from app.services import services


@shared_task(name="workers.audit.append_event", acks_late=True, max_retries=None)
def append_event(event: dict[str, Any]) -> int:
    """Append `event` (built by `app.audit.emit.emit`); return its seq."""
    return append(services().engine, event)


@shared_task(name="workers.audit.anchor_chain")
def anchor_chain() -> int | None:
    """Sign the chain's head and append it to `FOUREYES_AUDIT_ANCHOR_PATH` (when it moved);
    returns the seq anchored. Raises `AnchorError` when the log no longer extends the last
    checkpoint: the failure is the alarm, and nothing is signed."""
    deps = services()
    if not deps.settings.private_key:
        return None
    checkpoint = anchor_head(
        deps.engine, deps.settings.private_key, deps.settings.audit_anchor_path
    )
    return checkpoint.seq if checkpoint else None
