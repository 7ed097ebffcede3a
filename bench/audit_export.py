"""Benchmark: does `foureyes audit export` stream in constant memory?

Builds a chained log of N events (default 100,000; `--events 1000000` for a million) and
a baseline log of 1,000, exports each in a fresh process with `foureyes audit export`, and
prints the peak RSS of each export and their ratio. A ratio near 1 means memory does not
grow with the log. It prints figures; it asserts nothing.

    python bench/audit_export.py [--events N] [--format jsonl|ocsf] [--database-url URL]

With `--database-url` (an empty PostgreSQL database, say) the large log is built there;
the baseline always uses a SQLite file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from app.audit.chain import GENESIS_HASH, chained, normalise_event
from app.audit.models import AuditEvent
from app.db import make_engine
from app.migrate import upgrade

BASELINE_EVENTS = 1000
BATCH = 5000


def event(n: int) -> dict:
    """A realistic gate evaluation, with a decision tree in its data."""
    return {
        "ts": f"2025-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000Z",
        "type": "gate.evaluated",
        "installation_id": 1,
        "repository": "acme/app",
        "actor": "bob",
        "agent": "repo:acme/agents:ref:refs/heads/main",
        "subject": f"acme/app#{n % 5000}",
        "decision": "action_required",
        "reason": "1 more approval from a user with write permission",
        "data": {
            "head_sha": f"{n:040x}",
            "conclusion": "action_required",
            "token_id": f"tok-{n % 977}",
            "result": {
                "title": "human review: waiting",
                "root": {
                    "name": "human review",
                    "status": "pending",
                    "description": "1 approval with write permission",
                    "approvals": [
                        {"login": "alice", "counted": False, "reason": "on whose behalf"}
                    ],
                    "children": [],
                },
            },
        },
        "key": f"bench:{n}",
    }


def build(database_url: str, count: int, instance: Path) -> None:
    engine = make_engine(database_url)
    upgrade(engine, instance)
    prev = GENESIS_HASH
    for start in range(1, count + 1, BATCH):
        rows = []
        for seq in range(start, min(start + BATCH, count + 1)):
            row = chained(normalise_event(event(seq)), seq, prev)
            rows.append(row)
            prev = row["hash"]
        with engine.begin() as conn:
            conn.execute(insert(AuditEvent), rows)
    engine.dispose()


def export(database_url: str, fmt: str) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one export in a fresh process, written to /dev/null."""
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-c", "from app.cli import main; main()", "audit", "export"]
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--format", fmt, "--output", os.devnull],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"export failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--format", choices=["jsonl", "ocsf"], default="jsonl")
    parser.add_argument("--database-url", help="where to build the large log (empty database)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        baseline_url = f"sqlite:///{here / 'baseline.sqlite'}"
        large_url = args.database_url or f"sqlite:///{here / 'large.sqlite'}"
        started = time.perf_counter()
        build(baseline_url, BASELINE_EVENTS, here)
        build(large_url, args.events, here)
        sys.stdout.write(f"built {args.events:,} events in {time.perf_counter() - started:.1f}s\n")
        base_seconds, base_rss = export(baseline_url, args.format)
        seconds, rss = export(large_url, args.format)
    sys.stdout.write(
        f"{'events':>10} {'format':>6} {'seconds':>8} {'peak RSS MiB':>13}\n"
        f"{BASELINE_EVENTS:>10,} {args.format:>6} {base_seconds:>8.1f} {base_rss:>13.1f}\n"
        f"{args.events:>10,} {args.format:>6} {seconds:>8.1f} {rss:>13.1f}\n"
        f"peak RSS ratio ({args.events:,} / {BASELINE_EVENTS:,} events): {rss / base_rss:.2f}\n"
        f"throughput: {args.events / seconds:,.0f} events/s\n"
    )


if __name__ == "__main__":
    main()
