"""Soak: a bounded load run over loopback that stops by itself and prints figures.

Signed webhook deliveries for many pull requests (opened, pushed to, labelled, reviewed
by maintainers and bots) go to gunicorn in random order, with 1% sent twice and some
redelivered later (same GUID, as GitHub redelivers), while a Celery worker evaluates
them against the simulator. Then it waits for the queues to drain and checks that
every pull request's check run on its head says what the final state requires, and
that every delivery was audited once. It prints deliveries per second, queue depth
over time, and errors; it asserts nothing.

    python -m bench.soak --deliveries 10000      # the full run, on SQLite then PostgreSQL
    python -m bench.soak --deliveries 300 --database sqlite --redis-url redis://127.0.0.1:6379/13

Each database gets its own stack (a private `redis-server` unless `--redis-url`); a
PostgreSQL database (`--postgres-url`) has its tables dropped first. `tests/e2e/
test_soak.py` runs a small one (300 deliveries) on each.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy

from app.db import normalise_url
from app.serve import web_command, worker_command
from app.simulator import Simulator
from bench.servers import children, free_port, spawn, status_kib, stop, wait_for

AGENT = "copilot-swe-agent[bot]"
POLICY = """\
version: 1
agents:
  logins: ["copilot-swe-agent[bot]"]
  labels: ["ai-generated"]
merge:
  rules:
    - name: human review
      require: {approvals: 1, permission: write}
"""
PULLS_PER_REPO = 10
EVENTS_PER_PULL = 8  # on average: opened, pushes, labels, reviews
DUPLICATES = 0.01
REDELIVERIES = 0.005
SENDERS = 8
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/foureyes_bench"


@dataclass
class Delivery:
    event: str
    payload: dict[str, Any]
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Plan:
    deliveries: list[Delivery]
    pulls: list[tuple[str, int]]
    repos: list[str]


@dataclass
class SoakReport:
    sent: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    depth: list[tuple[float, int]] = field(default_factory=list)
    drained_after: float = 0.0
    wrong: list[str] = field(default_factory=list)
    audit_mismatches: list[str] = field(default_factory=list)
    pulls: int = 0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.sent} deliveries at {self.rate:.0f}/s, drained {self.drained_after:.1f}s "
            f"after the last; {len(self.wrong)} pull requests in the wrong state, "
            f"{len(self.audit_mismatches)} deliveries not audited exactly once"
        )

    def lines(self) -> list[str]:
        peak = max((depth for _, depth in self.depth), default=0)
        out = [
            f"deliveries sent: {self.sent} over {self.pulls} pull requests"
            f" in {self.seconds:.1f}s = {self.rate:.0f}/s",
            f"answers: {dict(sorted(self.statuses.items()))}",
            f"errors: {dict(self.errors) or 'none'}",
            f"queues drained {self.drained_after:.1f}s after the last delivery; peak depth {peak}",
            "queue depth over time (s: tasks queued or unacknowledged):",
        ]
        step = max(1, len(self.depth) // 20)
        out += [f"  {t:7.1f}: {depth}" for t, depth in self.depth[::step]]
        out.append(f"pull requests in the wrong state: {len(self.wrong)} {self.wrong[:5]}")
        out.append(
            f"deliveries not audited exactly once: {len(self.audit_mismatches)}"
            f" {self.audit_mismatches[:5]}"
        )
        return out


@contextmanager
def payloads_only(simulator: Simulator, app_id: int) -> Iterator[None]:
    """Story steps build their webhooks without sending them (the soak sends them)."""
    with simulator.world.lock:
        app = simulator.world.apps[app_id]
        url, app.webhook_url = app.webhook_url, None
    try:
        yield
    finally:
        with simulator.world.lock:
            app.webhook_url = url


def build_plan(simulator: Simulator, app_id: int, deliveries: int, seed: int) -> Plan:
    """Repositories and pull requests, each step's webhook kept for the soak to send."""
    rng = random.Random(seed)
    simulator.add_user(AGENT, "Bot")
    simulator.add_user("review-bot[bot]", "Bot")
    plan = Plan([], [], [])
    with payloads_only(simulator, app_id):

        def keep(event: str) -> None:
            assert simulator.last_payload is not None
            plan.deliveries.append(Delivery(event, simulator.last_payload))

        pulls = max(1, deliveries // EVENTS_PER_PULL)
        repo = ""
        for index in range(pulls):
            if index % PULLS_PER_REPO == 0:
                repo = f"acme/soak-{uuid.uuid4().hex[:8]}"
                simulator.add_repo(repo, files={".github/foureyes.yml": POLICY, "a.txt": "a\n"})
                for login in ("maintainer", "coder"):
                    simulator.set_role(repo, login, "write")
                simulator.set_role(repo, "review-bot[bot]", "admin")
                plan.repos.append(repo)
            author = AGENT if rng.random() < 0.7 else "coder"
            number = simulator.open_pull_request(
                repo, author=author, head_ref=f"agents/{index}", files={f"f{index}": "1\n"}
            )
            keep("pull_request")
            plan.pulls.append((repo, number))
            while len(plan.deliveries) < (index + 1) * deliveries / pulls:
                step = rng.random()
                if step < 0.3:
                    simulator.push(repo, number, author=author, files={f"f{index}": f"{step}\n"})
                    keep("pull_request")
                elif step < 0.45:
                    name = "ai-generated" if rng.random() < 0.5 else "docs"
                    simulator.label(repo, number, name, sender="coder")
                    keep("pull_request")
                else:
                    reviewer = rng.choice(["maintainer", "maintainer", "review-bot[bot]"])
                    simulator.review(repo, number, reviewer)
                    keep("pull_request_review")
    return plan


def expected_conclusion(simulator: Simulator, repo: str, number: int) -> str:
    """What the policy says of the pull request's final state."""
    with simulator.world.lock:
        pull = simulator.world.repo(repo).pulls[number]
        agent = pull.author == AGENT or "ai-generated" in pull.labels
        approved = any(
            r.user == "maintainer" and r.state == "APPROVED" and r.commit_id == pull.head_sha
            for r in pull.reviews
        )
    return "success" if not agent or approved else "action_required"


def conclusion_on_head(simulator: Simulator, repo: str, number: int) -> str | None:
    with simulator.world.lock:
        head = simulator.world.repo(repo).pulls[number].head_sha
        runs = [
            run
            for run in simulator.world.check_runs.values()
            if run.repo == repo.lower() and run.head_sha == head and run.name == "foureyes"
        ]
    return max(runs, key=lambda run: run.id).conclusion if runs else None


def queue_depth(client: redis.Redis) -> int:
    return int(client.llen("celery") + client.llen("audit") + client.hlen("unacked"))


def sample_depth(client: redis.Redis, report: SoakReport, done: threading.Event) -> None:
    started = time.monotonic()
    while not done.wait(0.5):
        try:
            report.depth.append((time.monotonic() - started, queue_depth(client)))
        except redis.RedisError:
            report.errors["redis unreachable while sampling"] += 1


def fire(simulator: Simulator, app_id: int, plan: Plan, seed: int, report: SoakReport) -> None:
    """Send every delivery in random order, 1% twice, some redelivered after the burst."""
    rng = random.Random(seed + 1)
    order = list(plan.deliveries)
    rng.shuffle(order)
    for delivery in rng.sample(plan.deliveries, max(1, int(len(order) * DUPLICATES))):
        order.insert(rng.randrange(len(order)), delivery)
    later = rng.sample(plan.deliveries, max(1, int(len(plan.deliveries) * REDELIVERIES)))
    lock = threading.Lock()

    def send(delivery: Delivery) -> None:
        try:
            response = simulator.deliver(
                delivery.event, delivery.payload, app_id=app_id, guid=delivery.guid
            )
            with lock:
                report.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    report.errors[f"HTTP {response.status_code}"] += 1
        except httpx.HTTPError as exc:
            with lock:
                report.errors[type(exc).__name__] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, order))
        list(pool.map(send, later))
    report.seconds = time.monotonic() - started
    report.sent = len(order) + len(later)


def audited_once(url: str, admin_token: str, plan: Plan) -> list[str]:
    """GUIDs of planned deliveries not audited exactly once as `webhook.received`."""
    seen: Counter = Counter()
    with httpx.Client(headers={"Authorization": f"Bearer {admin_token}"}, timeout=30) as client:
        for repo in plan.repos:
            query: dict[str, str] = {"type": "webhook.received", "repository": repo, "limit": "500"}
            while True:
                body = client.get(f"{url}/api/audit/events", params=query).json()
                seen.update(event["data"]["delivery"] for event in body["events"])
                if body.get("next") is None:
                    break
                query["after"] = str(body["next"])
    return [d.guid for d in plan.deliveries if seen[d.guid] != 1]


def soak(
    simulator: Simulator,
    app_id: int,
    url: str,
    redis_url: str,
    admin_token: str,
    deliveries: int = 300,
    seed: int = 1,
    drain_timeout: float = 600.0,
    sent: Callable[[], None] | None = None,
) -> SoakReport:
    """Run the soak against a running stack whose webhook URL is `url`. `sent` is called
    once every delivery is sent, before the wait for the queues to drain."""
    plan = build_plan(simulator, app_id, deliveries, seed)
    report = SoakReport(pulls=len(plan.pulls))
    client = redis.Redis.from_url(redis_url)
    done = threading.Event()
    sampler = threading.Thread(target=sample_depth, args=(client, report, done), daemon=True)
    sampler.start()
    try:
        fire(simulator, app_id, plan, seed, report)
        if sent is not None:
            sent()
        finished = time.monotonic()
        deadline = finished + drain_timeout
        while not drained(client):
            if time.monotonic() > deadline:
                report.errors["queues not drained in time"] += 1
                break
            time.sleep(0.5)
        report.drained_after = time.monotonic() - finished
    finally:
        done.set()
        sampler.join(5)
    report.wrong = [
        f"{repo}#{number}: wanted {want}, saw {seen}"
        for repo, number in plan.pulls
        if (want := expected_conclusion(simulator, repo, number))
        != (seen := conclusion_on_head(simulator, repo, number))
    ]
    report.audit_mismatches = audited_once(url, admin_token, plan)
    return report


def drained(client: redis.Redis) -> bool:
    pending = any(True for _ in client.scan_iter("foureyes:pending:*", count=1000))
    return queue_depth(client) == 0 and not pending


# -- the standalone run: its own stack --------------------------------------------------


@dataclass
class StandaloneStack:
    simulator: Simulator
    app_id: int
    url: str
    redis_url: str
    admin_token: str
    workdir: Path
    web: subprocess.Popen
    env: dict[str, str]
    processes: list[subprocess.Popen]
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start_workers(self, count: int, concurrency: int) -> None:
        """`count` Celery worker processes of `concurrency` each."""
        for index in range(len(self.workers), len(self.workers) + count):
            args = worker_command(concurrency, "--hostname", f"w{index}@%h", loglevel="WARNING")
            self.workers.append(spawn(args, self.env, self.workdir / f"worker{index}.log"))
        self.processes.extend(self.workers[-count:])

    def soak(
        self,
        deliveries: int,
        seed: int,
        drain_timeout: float = 600.0,
        sent: Callable[[], None] | None = None,
    ) -> SoakReport:
        return soak(
            self.simulator,
            self.app_id,
            self.url,
            self.redis_url,
            self.admin_token,
            deliveries,
            seed,
            drain_timeout,
            sent,
        )


def reset_postgres(database_url: str) -> None:
    """Drop every table of the PostgreSQL database (the app migrates it afresh at start)."""
    engine = sqlalchemy.create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("DROP SCHEMA public CASCADE"))
            conn.execute(sqlalchemy.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@contextmanager
def standalone_stack(
    redis_url: str | None,
    database_url: str | None = None,
    concurrency: int = 2,
    worker_processes: int = 1,
    web_workers: int = 2,
) -> Iterator[StandaloneStack]:
    """The simulator, gunicorn with `web_workers` workers and `worker_processes` Celery
    workers of `concurrency` each (0: `start_workers` later), on a private `redis-server`
    (or `redis_url`'s database, flushed) and `database_url` (default: a fresh SQLite file;
    a PostgreSQL database has its tables dropped first)."""
    workdir = Path(tempfile.mkdtemp(prefix="foureyes-soak-"))
    processes: list[subprocess.Popen] = []
    simulator = Simulator()
    try:
        if redis_url is None:
            if not shutil.which("redis-server"):
                raise RuntimeError("needs redis-server on PATH or a Redis URL")
            port = free_port()
            redis_args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
            redis_args += ["--save", "", "--dir", str(workdir)]
            processes.append(spawn(redis_args, dict(os.environ), workdir / "redis.log"))
            redis_url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(redis_url)

        def redis_up() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(redis_up, 20, "redis")
        client.flushdb()
        if database_url is None:
            database_url = f"sqlite:///{workdir / 'foureyes.sqlite'}"
        elif database_url.startswith(("postgresql:", "postgres:")):
            reset_postgres(database_url)
        simulator.start()
        installed = simulator.install(account="acme")
        web_port = free_port()
        url = f"http://127.0.0.1:{web_port}"
        admin_token = uuid.uuid4().hex
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "GITHUB_"))},
            "APP_ID": str(installed.app_id),
            "PRIVATE_KEY": installed.private_key,
            "WEBHOOK_SECRET": installed.webhook_secret,
            "GITHUB_API_URL": simulator.url,
            "FOUREYES_URL": url,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "FOUREYES_ADMIN_TOKEN": admin_token,
            "FOUREYES_INSTANCE_PATH": str(workdir / "instance"),
            "PYTHONPATH": str(ROOT),
        }
        web_args = web_command(f"127.0.0.1:{web_port}", web_workers)
        web = spawn(web_args, env, workdir / "web.log")
        processes.append(web)

        def web_up() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(web_up, 60, "gunicorn")
        stack = StandaloneStack(
            simulator, installed.app_id, url, redis_url, admin_token, workdir, web, env, processes
        )
        stack.start_workers(worker_processes, concurrency)
        simulator.configure_webhook(installed.app_id, url)
        yield stack
    finally:
        for process in reversed(processes):
            stop(process)
        simulator.stop()


def run_standalone(
    deliveries: int,
    seed: int,
    redis_url: str | None,
    workers: int,
    databases: dict[str, str | None],
) -> int:
    """The soak once per database (`name: URL`, None for SQLite), each on its own stack;
    their reports, then one line per database side by side."""
    summary, failed = [], False
    for name, database_url in databases.items():
        with standalone_stack(redis_url, database_url, workers) as stack:
            report = stack.soak(deliveries, seed)
            print(f"== {name} ==")
            print("\n".join(report.lines()))
            for process in (stack.web, *stack.workers):
                print(f"peak RSS after the soak: {peak_rss(process.pid)}")
            print(f"logs: {stack.workdir}\n")
        summary.append(f"{name}: {report.summary()}")
        failed = failed or bool(report.wrong or report.audit_mismatches)
    print("\n".join(summary))
    return 1 if failed else 0


def peak_rss(parent: int) -> str:
    """`VmHWM` (peak resident set) of a process and each of its children: the gunicorn
    arbiter and its workers, or Celery's main process and its pool."""
    pids = [parent, *children(parent)]
    command = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")[2].decode()
    peaks = ", ".join(f"{status_kib(pid, 'VmHWM') / 1024:.0f} MiB" for pid in pids)
    return f"{command} (main, then children): {peaks}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker concurrency")
    parser.add_argument(
        "--redis-url", help="an existing Redis database to use (flushed!); default: a private one"
    )
    parser.add_argument(
        "--database", choices=("both", "sqlite", "postgresql"), default="both", help="default: both"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a PostgreSQL database to use (its tables are dropped!); default: "
        "BENCH_POSTGRES_URL or " + DEFAULT_POSTGRES_URL,
    )
    args = parser.parse_args(argv)
    databases: dict[str, str | None] = {}
    if args.database in ("both", "sqlite"):
        databases["SQLite"] = None
    if args.database in ("both", "postgresql"):
        databases["PostgreSQL"] = args.postgres_url
    return run_standalone(args.deliveries, args.seed, args.redis_url, args.workers, databases)


if __name__ == "__main__":
    sys.exit(main())
