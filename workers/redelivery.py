"""Redeliver the webhook deliveries GitHub could not hand to us (GitHub never retries).

A scheduled job, one instance at a time (a lock in the shared state), lists the app's
delivery attempts newest first (`GET /app/hook/deliveries`, cursor pagination) down to
where the previous run stopped, less an overlap for attempts that show up late, and
never further back than GitHub's three-day window. Every GUID with no successful
(2xx) attempt gets its newest failed attempt redelivered
(`POST /app/hook/deliveries/{id}/attempts`). Redelivery keeps the GUID, so intake's
de-duplication makes a redelivery of an event that did arrive a harmless 200.

Each failed attempt is redelivered at most once (a marker per attempt id), and a GUID
at most `MAX_REDELIVERIES` times in the window: an event that can never be accepted
(malformed, too large) is given up with an error log line, not retried forever.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from celery import shared_task
from prometheus_client import Counter

from app.github.client import github_errors, parse_time
from app.services import Services, services
from app.state import held_lock

log = structlog.get_logger()

WINDOW = timedelta(days=3)
OVERLAP = timedelta(minutes=15)
PER_PAGE = 100
MAX_PAGES = 100
MAX_REDELIVERIES = 10
LOCK_TTL = 600.0
CHECKPOINT_KEY = "redelivery:checkpoint"
NEXT_CURSOR = re.compile(r'<[^>]*[?&]cursor=([^&>]+)[^>]*>;\s*rel="next"')

REDELIVERIES = Counter(
    "foureyes_webhook_redeliveries_total",
    "Failed webhook deliveries asked for again, or given up",
    ["outcome"],
)


@dataclass
class RedeliveryReport:
    scanned: int = 0
    failed_guids: int = 0
    redelivered: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    truncated: bool = False


def succeeded(attempt: dict[str, Any]) -> bool:
    return 200 <= int(attempt.get("status_code") or 0) < 300


def next_cursor(link: str | None) -> str | None:
    """The `cursor` of the `rel="next"` link, if there is one."""
    match = NEXT_CURSOR.search(link or "")
    return match.group(1) if match else None


def horizon(now: datetime, checkpoint: str | None) -> datetime:
    """How far back to look: the last checkpoint less the overlap, within the window."""
    oldest = now - WINDOW
    if checkpoint is None:
        return oldest
    return max(oldest, parse_time(checkpoint) - OVERLAP)


def scan(deps: Services, since: datetime, report: RedeliveryReport) -> dict[str, list[dict]]:
    """Every attempt delivered at or after `since`, grouped by GUID."""
    app_client = deps.github.as_app()  # githubkit's namespaces hold only a weak reference
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        with github_errors():
            if cursor is None:
                response = app_client.rest.apps.list_webhook_deliveries(per_page=PER_PAGE)
            else:
                response = app_client.rest.apps.list_webhook_deliveries(
                    per_page=PER_PAGE, cursor=cursor
                )
        reached_the_end = False
        for attempt in response.json():
            delivered_at = parse_time(attempt["delivered_at"])
            if delivered_at < since:
                reached_the_end = True
                break
            report.scanned += 1
            if report.checkpoint is None or delivered_at > parse_time(report.checkpoint):
                report.checkpoint = attempt["delivered_at"]
            attempts[attempt["guid"]].append(attempt)
        cursor = next_cursor(response.headers.get("link"))
        if reached_the_end or cursor is None:
            return attempts
    report.truncated = True
    log.warning("redelivery.scan_truncated", pages=MAX_PAGES, scanned=report.scanned)
    return attempts


def redeliver_failed(deps: Services, now: datetime | None = None) -> RedeliveryReport:
    """One pass: redeliver every failed GUID since the checkpoint; advance the checkpoint."""
    now = now or datetime.now(UTC)
    report = RedeliveryReport()
    previous = deps.state.get(CHECKPOINT_KEY)
    attempts = scan(deps, horizon(now, previous), report)
    app_client = deps.github.as_app()
    for guid, tries in attempts.items():
        if any(succeeded(attempt) for attempt in tries):
            continue
        report.failed_guids += 1
        latest = max(tries, key=lambda attempt: int(attempt["id"]))
        marker = f"redelivery:attempt:{latest['id']}"
        if deps.state.get(marker):
            continue  # already asked for; its own attempt is newer than this one
        if deps.state.incr(f"redelivery:count:{guid}", WINDOW.total_seconds()) > MAX_REDELIVERIES:
            deps.state.set(marker, "given up", WINDOW.total_seconds())
            report.given_up.append(guid)
            REDELIVERIES.labels("given_up").inc()
            log.error(
                "redelivery.given_up",
                delivery=guid,
                github_event=latest.get("event"),
                status_code=latest.get("status_code"),
                attempts=len(tries),
            )
            continue
        # Ask first, then remember: a crash in between costs a duplicate (intake drops
        # it), never a lost event.
        with github_errors():
            app_client.rest.apps.redeliver_webhook_delivery(int(latest["id"]))
        deps.state.set(marker, "requested", WINDOW.total_seconds())
        report.redelivered.append(guid)
        REDELIVERIES.labels("requested").inc()
        log.info(
            "redelivery.requested",
            delivery=guid,
            github_event=latest.get("event"),
            action=latest.get("action"),
            failed_with=latest.get("status_code"),
        )
    if report.checkpoint and not report.truncated:
        deps.state.set(CHECKPOINT_KEY, report.checkpoint, WINDOW.total_seconds())
    return report


def run_redelivery(deps: Services) -> RedeliveryReport | None:
    """A pass under the job's lock; None when another instance is running one."""
    with held_lock(deps.state, "redelivery", LOCK_TTL) as held:
        if not held:
            log.info("redelivery.skipped", reason="another run holds the lock")
            return None
        report = redeliver_failed(deps)
    log.info(
        "redelivery.done",
        scanned=report.scanned,
        failed=report.failed_guids,
        redelivered=len(report.redelivered),
        given_up=len(report.given_up),
        checkpoint=report.checkpoint,
    )
    return report


@shared_task(name="workers.redelivery.redeliver_failed_deliveries")
def redeliver_failed_deliveries() -> int:
    """The scheduled job (Celery beat): how many deliveries it asked GitHub to redeliver."""
    deps = services()
    if deps.settings.setup_mode:
        return 0
    report = run_redelivery(deps)
    return len(report.redelivered) if report else 0
