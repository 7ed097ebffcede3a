"""A small soak on each database: 300 signed deliveries over many pull requests, in random
order with duplicates and redeliveries; every pull request ends in the right state and
every delivery is audited once. The e2e stack runs on PostgreSQL (SQLite only where
PostgreSQL is unreachable, never in CI); a second stack of its own runs on SQLite, the
default. `python -m bench.soak` runs the full 10,000 on both."""

from __future__ import annotations

import shutil

import pytest

from bench.soak import SoakReport, soak, standalone_stack
from tests.e2e.conftest import ADMIN_TOKEN, Stack

pytestmark = pytest.mark.e2e


def assert_converged(report: SoakReport) -> None:
    assert report.sent >= 300
    assert not report.errors
    assert set(report.statuses) <= {200, 202}
    assert report.statuses[200] >= 3  # the duplicates and redeliveries were recognised
    assert report.wrong == []
    assert report.audit_mismatches == []


def test_a_small_soak_converges_on_the_e2e_stacks_database(stack: Stack):
    report = soak(
        stack.simulator,
        stack.installed.app_id,
        stack.url,
        stack.env["REDIS_URL"],
        ADMIN_TOKEN,
        deliveries=300,
        seed=7,
        drain_timeout=240,
    )
    database = stack.env["DATABASE_URL"].split(":", 1)[0]
    print(f"{database}:", "\n".join(report.lines()), sep="\n")
    assert_converged(report)


def test_a_small_soak_converges_on_sqlite():
    """Its own stack, on a private redis-server: the e2e stack's workers would take its
    tasks from a shared Redis database."""
    if not shutil.which("redis-server"):
        pytest.skip("the SQLite soak starts a private redis-server: none on PATH")
    with standalone_stack(None) as own:
        report = own.soak(300, 7, drain_timeout=240)
    print("sqlite:", "\n".join(report.lines()), sep="\n")
    assert_converged(report)
