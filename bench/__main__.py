"""The benchmark suite: `python -m bench` runs every section and prints one table.

Every figure is a count or a ratio against a baseline measured in the same run. Needs
Redis (database 8, or BENCH_REDIS_URL), flushed before and after. `--quick` runs
smaller, bounded loads; `--only intake,e2e` picks sections. docs/benchmarks.md records
the results and the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import broker, cpu, economy, endtoend, intake
from bench.report import Row, machine, table

SECTIONS = ("economy", "cpu", "broker", "intake", "e2e", "audit")


def audit_export(events: int) -> list[Row]:
    """`bench/audit_export.py` (constant-memory export), run as its own process."""
    script = Path(__file__).resolve().parent / "audit_export.py"
    result = subprocess.run(
        [sys.executable, str(script), "--events", str(events)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    ratio_line = next(line for line in lines if line.startswith("peak RSS ratio"))
    rate_line = next(line for line in lines if line.startswith("throughput"))
    return [
        Row(
            "audit export",
            f"peak RSS, {events:,} vs 1,000 events",
            "",
            "",
            ratio_line.rsplit(":", 1)[1].strip(),
            "~1 (constant memory)",
        ),
        Row("audit export", "export rate", rate_line.split(":", 1)[1].strip()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller bounded loads")
    parser.add_argument("--only", default=",".join(SECTIONS), help=",".join(SECTIONS))
    args = parser.parse_args()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    quick = args.quick
    runs: dict[str, Callable[[], list[Row]]] = {
        "economy": lambda: economy.run(3000, 250, 300),
        "cpu": lambda: (
            cpu.evaluator_rows(3000, 250, 300)
            + cpu.evaluation_rows(5 if quick else 15)
            + cpu.intake_rows(50 if quick else 200)
        ),
        "broker": lambda: broker.run(50 if quick else 200),
        "intake": lambda: intake.run(300 if quick else 1500),
        "e2e": lambda: endtoend.run(10 if quick else 30, 20 if quick else 60),
        "audit": lambda: audit_export(20_000 if quick else 100_000),
    }
    header = machine()
    rows: list[Row] = []
    started = time.monotonic()
    for name in wanted:
        sys.stderr.write(f"bench: {name}...\n")
        rows += runs[name]()
    sys.stdout.write(f"{header}\n\n{table(rows)}\n\nsuite took {time.monotonic() - started:.0f}s\n")


if __name__ == "__main__":
    main()
