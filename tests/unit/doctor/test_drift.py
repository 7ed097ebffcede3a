"""The scheduled doctor: `config.drift` once per change of a repository's problems."""

from __future__ import annotations

import pytest

from app.audit.query import events
from app.demo.stack import eager_app
from app.simulator.governance import add_environment
from app.state import held_lock
from tests.unit.doctor.conftest import REPO

TASK = "workers.doctor.check_drift"


@pytest.fixture
def scheduled(doctor):
    """The web app with its Celery app (tasks inline), as the beat would run the task."""
    with eager_app(doctor.sim, doctor.installed, doctor.workdir) as flask_app:
        yield flask_app


def run(flask_app) -> list[str]:
    import workers.doctor  # noqa: F401 - the worker imports it; registers the task

    return flask_app.extensions["celery"].tasks[TASK].apply().get()


def drift_events(flask_app) -> list:
    with flask_app.extensions["foureyes"].sessions() as session:
        return events(session, type="config.drift")


def test_drift_is_recorded_once_per_change(doctor, scheduled):
    assert run(scheduled) == [REPO]
    [first] = drift_events(scheduled)
    assert first.subject == REPO and first.repository == REPO
    assert first.installation_id == doctor.installed.installation_id
    assert first.decision == "not_enforced"
    assert [p["check"] for p in first.data["problems"]] == ["required-check"]
    assert "nothing requires 'foureyes'" in first.reason

    # Nothing changed: nothing recorded.
    assert run(scheduled) == []
    assert len(drift_events(scheduled)) == 1

    doctor.enforce()
    assert run(scheduled) == [REPO]
    fixed = drift_events(scheduled)[-1]
    assert fixed.decision == "enforced" and fixed.data["problems"] == []
    assert fixed.data["previous_digest"] == first.data["digest"]

    assert run(scheduled) == []
    # A new problem of another kind is a change again.
    add_environment(doctor.sim.world, REPO, "production")
    assert run(scheduled) == [REPO]
    latest = drift_events(scheduled)[-1]
    assert [p["check"] for p in latest.data["problems"]] == ["environment"]
    assert len(drift_events(scheduled)) == 3


def test_a_repository_github_fails_on_records_no_drift(doctor, scheduled):
    assert run(scheduled) == [REPO]
    doctor.enforce()
    # An outage is not a change of configuration: the fix is recorded once it is seen.
    doctor.sim.fail("GET", r"^/repos/acme/widgets/rules/branches/", 502, times=3)
    assert run(scheduled) == []
    assert len(drift_events(scheduled)) == 1
    assert run(scheduled) == [REPO]
    assert drift_events(scheduled)[-1].decision == "enforced"


def test_one_run_at_a_time(doctor, scheduled):
    state = scheduled.extensions["foureyes"].state
    doctor.sim.clear_requests()
    with held_lock(state, "doctor:drift", 60) as held:
        assert held
        assert run(scheduled) == []
    assert doctor.sim.requests == []
    assert drift_events(scheduled) == []
