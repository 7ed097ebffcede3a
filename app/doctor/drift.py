"""`config.drift` audit events: one each time the set of problems of a subject changes.

The last digest of each subject's problems is kept in the shared state; a subject that
could not be read this time is skipped (a GitHub outage is not a configuration change).
"""

from __future__ import annotations

from dataclasses import asdict

import structlog

from app.audit.emit import emit
from app.doctor.findings import APP_SUBJECT, Report, Subject
from app.state import SharedState

log = structlog.get_logger()

# Longer than any schedule: an expired digest only means one repeated event.
DIGEST_TTL = 30 * 24 * 3600.0
NO_PROBLEMS = Subject("").digest()


def _event_subject(report: Report, subject: Subject) -> str:
    if subject.name == APP_SUBJECT:
        return f"app:{report.app_id}"
    return subject.name


def record_drift(state: SharedState, report: Report, run_id: str) -> list[str]:
    """Emit `config.drift` for every subject whose problems changed; returns their names.

    A subject seen for the first time counts as changed only when it has problems.
    `run_id` keeps a retried run from recording the same change twice.
    """
    changed = []
    for subject in report.subjects:
        if not subject.complete:
            continue
        key = f"doctor:digest:{subject.name}"
        previous = state.get(key) or NO_PROBLEMS
        digest = subject.digest()
        if digest != previous:
            problems = [asdict(finding) for finding in subject.problems]
            emit(
                "config.drift",
                subject=_event_subject(report, subject),
                installation_id=subject.installation_id,
                repository=subject.name if "/" in subject.name else None,
                decision="not_enforced" if problems else "enforced",
                reason=(
                    f"{len(problems)} problem(s): {problems[0]['message']}"
                    if problems
                    else "every problem found before is fixed"
                )[:500],
                data={"problems": problems, "digest": digest, "previous_digest": previous},
                key=f"config.drift:{subject.name}:{digest}:{run_id}",
            )
            changed.append(subject.name)
            log.info("doctor.drift", subject=subject.name, problems=len(problems))
        state.set(key, digest, DIGEST_TTL)
    return changed
