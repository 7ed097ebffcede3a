"""The doctor on a schedule: hourly, one run at a time, `config.drift` on each change."""

from __future__ import annotations

import structlog
from celery import Task, shared_task

from app.doctor import record_drift, run_doctor
from app.manifest import load_manifest
from app.services import services
from app.state import held_lock

log = structlog.get_logger()

# A run holds the lock at most this long; a dead holder frees it then.
LOCK_TTL = 1800.0


@shared_task(name="workers.doctor.check_drift", bind=True)
def check_drift(self: Task) -> list[str]:
    """Check every repository; audit those whose problems changed since the last run."""
    deps = services()
    with held_lock(deps.state, "doctor:drift", LOCK_TTL) as held:
        if not held:
            log.info("doctor.skipped", reason="another run holds the lock")
            return []
        report = run_doctor(deps.github, deps.state, deps.settings.check_name, load_manifest())
        run_id = self.request.id or "inline"
        changed = record_drift(deps.state, report, run_id)
        log.info(
            "doctor.checked",
            subjects=len(report.subjects),
            problems=sum(len(s.problems) for s in report.subjects),
            changed=len(changed),
        )
        return changed
