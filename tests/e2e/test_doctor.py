"""The scheduled doctor end to end: the task in a real Celery worker, its lock and digests
in Redis, `config.drift` through the audit queue, read back from the audit API."""

from __future__ import annotations

import pytest
from celery import Celery

from app.simulator.governance import add_ruleset, status_checks_rule
from tests.e2e.conftest import Stack, wait_for

pytestmark = pytest.mark.e2e

TASK = "workers.doctor.check_drift"


def run_doctor(stack: Stack) -> None:
    """What the beat does every hour: queue the task, then wait until the worker is done."""
    client = Celery(broker=stack.env["REDIS_URL"])
    client.send_task(TASK)
    stack.settle(60)


def test_drift_is_audited_once_per_change(stack: Stack):
    repo = stack.repo("drift")
    run_doctor(stack)
    [unenforced] = wait_for(
        lambda: stack.audit(type="config.drift", repository=repo), 30, "the drift event"
    )
    assert unenforced["subject"] == repo
    assert unenforced["decision"] == "not_enforced"
    assert [p["check"] for p in unenforced["data"]["problems"]] == ["required-check"]

    run_doctor(stack)
    assert len(stack.audit(type="config.drift", repository=repo)) == 1

    add_ruleset(stack.world, repo, [status_checks_rule(("foureyes", stack.installed.app_id))])
    run_doctor(stack)
    events = wait_for(
        lambda: (found := stack.audit(type="config.drift", repository=repo))[1:] and found,
        30,
        "the fixed event",
    )
    assert [e["decision"] for e in events] == ["not_enforced", "enforced"]
