"""Issue 16: a worker killed with SIGKILL mid-evaluation, with the production default
settings (the broker's 300 s visibility timeout, beat inside the worker as `foureyes serve`
runs it): the pull request has its completed check within a minute of a fresh worker's
start, because the dead run's lease expires and the sweeper hands its message out again.
The stack is test_faults.py's (its fixtures, in a module of its own: its own redis-server)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.conftest import Stack, wait_for
from tests.e2e.test_faults import (  # noqa: F401 - the fixtures, for this module's own stack
    agent_repo,
    assert_audited_once,
    faulty,
    open_agent_pull,
    private_redis,
    start_worker,
)

pytestmark = pytest.mark.e2e

# What issue 16 asks of a killed worker: a completed check within a minute of a fresh start.
RECOVERY_DEADLINE = 60
STACK_SETTINGS: dict[str, str] = {}  # the production defaults


def test_a_worker_killed_mid_evaluation_runs_it_again_without_duplicates(faulty: Stack):  # noqa: F811
    repo = agent_repo(faulty)
    # The evaluation hangs in its publication: the decision is audited, the check not yet
    # written. The simulator still writes it once the 10 s are over (the request arrived).
    faulty.simulator.slow(rf"^/repos/{repo}/check-runs$", 10)
    number = open_agent_pull(faulty, repo, 1)
    wait_for(
        lambda: faulty.audit(type="gate.evaluated", repository=repo),
        30,
        "the evaluation to reach its publication",
    )
    worker = faulty.processes["worker"]
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    started = time.monotonic()
    faulty.processes["worker"] = start_worker(faulty)
    # The dead run's lease expires and the sweeper (beat, every 10 s) hands its message
    # out again, long before the 300 s visibility timeout. The dead run's check-run request
    # still lands (the simulator answers it after its 10 s), so the rerun's publication,
    # audited as `check.published`, is what marks the recovery.
    head = faulty.head(repo, number)
    wait_for(
        lambda: faulty.audit(type="check.published", repository=repo),
        RECOVERY_DEADLINE,
        "the rerun of the killed evaluation to publish its check",
    )
    faulty.wait_check(repo, head, "action_required", timeout=5)
    took = time.monotonic() - started
    print(f"killed evaluation: completed check {took:.1f}s after the fresh worker started")
    faulty.settle(timeout=RECOVERY_DEADLINE)
    assert_audited_once(faulty, repo, [number])
    assert "WorkerLostError" not in (faulty.workdir / "worker.log").read_text(errors="replace")
