"""The push guard when GitHub keeps failing: retried until the last attempt, which flags
an agent's push to a branch whose protection GitHub could not report (fail closed)."""

from __future__ import annotations

import pytest

from app.deploy import records
from app.deploy.push_guard import guard_push, record_merge
from app.errors import TransientError
from app.services import Services
from app.simulator import Installed, Simulator

BOT = "foureyes[bot]"


def push(ref: str) -> dict:
    return {
        "ref": ref,
        "before": "1" * 40,
        "after": "2" * 40,
        "forced": False,
        "deleted": False,
        "sender": BOT,
        "default_branch": "main",
    }


def test_an_unreadable_branch_protection_is_retried_then_flagged(
    simulator: Simulator, installed: Installed, deps: Services
) -> None:
    simulator.fail("GET", r"/repos/acme/widgets/branches/", 502, times=100)
    ref = "refs/heads/release"
    with pytest.raises(TransientError):
        guard_push(deps, installed.installation_id, "acme/widgets", push(ref), last_attempt=False)

    reasons = guard_push(deps, installed.installation_id, "acme/widgets", push(ref))
    assert "pushed to release, which may be protected (GitHub could not say)" in reasons
    with simulator.world.lock:
        [issue] = simulator.world.repo("acme/widgets").issues.values()
    assert "may be protected" in issue.body


def test_a_merge_whose_head_github_cannot_find_is_not_countersigned(
    simulator: Simulator, installed: Installed, deps: Services
) -> None:
    merge_sha = simulator.world.repo("acme/widgets").branches["main"]
    merge = {
        "number": 5,
        "merge_commit_sha": merge_sha,
        "head_sha": "b" * 40,  # a head GitHub does not know: nothing recorded it as approved
        "base_ref": "main",
        "merged_by": "dana",
        "default_branch": "main",
    }
    assert record_merge(deps, installed.installation_id, "acme/widgets", merge) == ()
    assert not records.countersigned(deps, "acme/widgets", merge_sha)
    # Only foureyes' own record of a human approval countersigns: GitHub's check runs are
    # not asked (a green check may mean that no approval was needed).
    assert not any("/check-runs" in r.path for r in simulator.requests)
