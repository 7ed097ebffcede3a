"""Scale-out: the same burst of deliveries with 1, 2 and 4 Celery worker processes behind
2 gunicorn workers, one Redis and one PostgreSQL; deliveries/s, evaluations/s and the
time to converge for each, with the ratio to one worker, and the duplicates that must
stay at zero (check runs created per head, audit events per delivery).

    python -m bench.scale --postgres-url postgresql://postgres@127.0.0.1:5432/test_scale

The burst is the soak's (`bench/soak.py`): signed deliveries for many pull requests in
random order, 1% sent twice and some redelivered; every pull request's check must end
in the state its final events require. It is queued in full before the workers start,
so that the workers' rate is not the sender's. Each configuration gets a fresh simulator, an
emptied Redis database and a PostgreSQL database whose tables are dropped first. Figures
are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from dataclasses import dataclass

import sqlalchemy

from app.db import normalise_url
from app.simulator import Simulator
from bench.report import Row, machine, ratio, table
from bench.servers import children, cpu_seconds
from bench.soak import DEFAULT_POSTGRES_URL, SoakReport, standalone_stack

SCALE_REDIS_URL = os.environ.get("SCALE_REDIS_URL", "redis://127.0.0.1:6379/9")
WEB_WORKERS = 2


@dataclass(frozen=True)
class Run:
    workers: int
    report: SoakReport
    evaluations: int
    duplicate_check_runs: int
    duplicate_audit_events: int
    worker_cpu: float

    @property
    def converged_after(self) -> float:
        """From the workers' start to the queues drained."""
        return self.report.drained_after

    @property
    def drain_rate(self) -> float:
        return self.report.sent / self.converged_after if self.converged_after else 0.0

    @property
    def evaluation_rate(self) -> float:
        return self.evaluations / self.converged_after if self.converged_after else 0.0


def duplicate_check_runs(simulator: Simulator) -> int:
    """Check runs created beyond the first on one head (one per head commit, updated in
    place, is the contract)."""
    with simulator.world.lock:
        per_head = Counter(
            (run.repo, run.head_sha, run.name) for run in simulator.world.check_runs.values()
        )
    return sum(count - 1 for count in per_head.values())


def audit_figures(database_url: str) -> tuple[int, int]:
    """(evaluations audited, `webhook.received` events beyond one per delivery GUID)."""
    engine = sqlalchemy.create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            evaluations = conn.execute(
                sqlalchemy.text("SELECT count(*) FROM audit_events WHERE type = 'gate.evaluated'")
            ).scalar_one()
            duplicates = conn.execute(
                sqlalchemy.text(
                    "SELECT count(*) - count(DISTINCT data->>'delivery') FROM audit_events"
                    " WHERE type = 'webhook.received'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return int(evaluations), int(duplicates)


def measure(workers: int, deliveries: int, seed: int, database_url: str) -> Run:
    """The burst queued in full with no worker running, then `workers` started: the
    deliveries/s are the intake's alone, and the time to converge is the workers' (their
    start-up included) rather than the sender's on a shared 2-core machine."""
    with standalone_stack(
        SCALE_REDIS_URL, database_url, 1, worker_processes=0, web_workers=WEB_WORKERS
    ) as stack:
        report = stack.soak(deliveries, seed, sent=lambda: stack.start_workers(workers, 1))
        cpu = cpu_seconds([pid for w in stack.workers for pid in (w.pid, *children(w.pid))])
        duplicates = duplicate_check_runs(stack.simulator)
        evaluations, audit_duplicates = audit_figures(database_url)
    return Run(workers, report, evaluations, duplicates, audit_duplicates, cpu)


def rows(runs: list[Run]) -> list[Row]:
    one = runs[0]
    out = []
    for run in runs:
        section = f"{run.workers} worker process{'es' if run.workers > 1 else ''}"
        report = run.report
        out += [
            Row(
                section,
                "deliveries/s",
                f"{report.rate:.1f}/s",
                f"{one.report.rate:.1f}/s with 1",
                ratio(report.rate, one.report.rate),
            ),
            Row(
                section,
                "deliveries drained/s (deliveries / convergence)",
                f"{run.drain_rate:.1f}/s",
                f"{one.drain_rate:.1f}/s with 1",
                ratio(run.drain_rate, one.drain_rate),
            ),
            Row(
                section,
                "worker CPU (all worker processes, start-up included)",
                f"{run.worker_cpu:.1f} s",
                f"{one.worker_cpu:.1f} s with 1",
                ratio(run.worker_cpu, one.worker_cpu),
            ),
            Row(
                section,
                "evaluations/s (evaluations / convergence)",
                f"{run.evaluation_rate:.1f}/s ({run.evaluations})",
                f"{one.evaluation_rate:.1f}/s with 1",
                ratio(run.evaluation_rate, one.evaluation_rate),
            ),
            Row(
                section,
                "convergence (workers started to queues drained)",
                f"{run.converged_after:.1f} s",
                f"{one.converged_after:.1f} s with 1",
                ratio(run.converged_after, one.converged_after),
            ),
            Row(section, "pull requests in the wrong state", str(len(report.wrong)), target="0"),
            Row(
                section,
                "duplicate check runs created per head",
                str(run.duplicate_check_runs),
                target="0",
            ),
            Row(
                section,
                "duplicate audit events (webhook.received per delivery)",
                str(run.duplicate_audit_events),
                target="0",
            ),
            Row(
                section,
                "deliveries not audited exactly once",
                str(len(report.audit_mismatches)),
                target="0",
            ),
            Row(section, "errors", str(sum(report.errors.values())), target="0"),
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--deliveries", type=int, default=400)
    parser.add_argument("--workers", default="1,2,4", help="worker process counts to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="the PostgreSQL database to use (its tables are dropped!)",
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    header = machine()
    runs = []
    for workers in counts:
        sys.stderr.write(f"bench.scale: {workers} worker process(es)...\n")
        runs.append(measure(workers, args.deliveries, args.seed, args.postgres_url))
    sys.stdout.write(f"{header}\n{WEB_WORKERS} gunicorn workers; Redis {SCALE_REDIS_URL}; ")
    sys.stdout.write(f"{args.deliveries} deliveries per run\n\n{table(rows(runs))}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
