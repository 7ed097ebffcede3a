"""A small soak against the e2e stack: 300 signed deliveries over many pull requests, in
random order with duplicates and redeliveries; every pull request ends in the right
state and every delivery is audited once. `python -m bench.soak` runs the full 10,000."""

from __future__ import annotations

import pytest

from bench.soak import soak
from tests.e2e.conftest import ADMIN_TOKEN, Stack

pytestmark = pytest.mark.e2e


def test_a_small_soak_converges(stack: Stack):
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
    print("\n".join(report.lines()))
    assert report.sent >= 300
    assert not report.errors
    assert set(report.statuses) <= {200, 202}
    assert report.statuses[200] >= 3  # the duplicates and redeliveries were recognised
    assert report.wrong == []
    assert report.audit_mismatches == []
