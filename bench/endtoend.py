"""End to end: webhook to published check run under gunicorn, one Celery worker process
and the audit worker (as `foureyes serve` runs them), against the simulator over HTTP;
evaluations per second of that process in a burst; and the peak RSS of the web and
worker processes after the burst (`python -m bench.soak` prints the same after its 10,000
deliveries)."""

from __future__ import annotations

import os
import time

import httpx
import jwt
import redis

from app.simulator import Simulator
from bench.inproc import AGENT, POLICY, REPO
from bench.report import Row, ms, percentile, ratio
from bench.servers import (
    BENCH_REDIS_URL,
    audit_worker,
    celery_worker,
    children,
    gunicorn,
    status_kib,
    stop,
    wait_for,
    workdir,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def checked(simulator: Simulator, sha: str) -> bool:
    with simulator.world.lock:
        return any(
            run.head_sha == sha and run.status == "completed"
            for run in simulator.world.check_runs.values()
        )


def io_floor(simulator: Simulator, installed, paths: list[str], rounds: int = 20) -> float:
    """The median time of the GitHub requests one evaluation made, replayed one after
    another by a plain httpx client: what no evaluation can go below on this machine."""
    now = int(time.time())
    app_token = jwt.encode(
        {"iat": now - 60, "exp": now + 540, "iss": str(installed.app_id)},
        installed.private_key,
        algorithm="RS256",
    )
    base = simulator.url
    with httpx.Client(base_url=base, timeout=10) as client:
        token = client.post(
            f"/app/installations/{installed.installation_id}/access_tokens",
            headers={"Authorization": f"Bearer {app_token}"},
        ).json()["token"]
        headers = {"Authorization": f"token {token}"}
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            for path in paths:
                client.get(path, headers=headers)
            times.append(time.perf_counter() - started)
    return percentile(times, 0.5)


def memory(pids: list[int], field: str) -> float:
    return max((status_kib(pid, field) for pid in pids), default=0) / 1024


def run(sequential: int, burst: int) -> list[Row]:
    here = workdir()
    broker = redis.Redis.from_url(BENCH_REDIS_URL)
    broker.flushdb()
    simulator = Simulator()
    simulator.start()
    simulator.add_repo(REPO, files={"README.md": "# bench\n", ".github/foureyes.yml": POLICY})
    installed = simulator.install(account="acme")
    simulator.add_user(AGENT)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "GITHUB_"))},
        "PYTHONPATH": ROOT,
        "APP_ID": str(installed.app_id),
        "PRIVATE_KEY": installed.private_key,
        "WEBHOOK_SECRET": installed.webhook_secret,
        "GITHUB_API_URL": simulator.url,
        "DATABASE_URL": f"sqlite:///{here / 'foureyes.sqlite'}",
        "REDIS_URL": BENCH_REDIS_URL,
        "FOUREYES_INSTANCE_PATH": str(here / "instance"),
    }
    web, url = gunicorn("app:create_app()", env, here, "web")
    worker = celery_worker(env, here, concurrency=1, queues=("celery",))
    auditor = audit_worker(env, here)
    try:
        simulator.configure_webhook(installed.app_id, url)

        def open_one(n: int) -> str:
            number = simulator.open_pull_request(
                REPO, author=AGENT, head_ref=f"agents/b{n}", files={f"f{n}.py": "1\n"}
            )
            with simulator.world.lock:
                return simulator.world.repo(REPO).pulls[number].head_sha

        for n in range(3):  # warm-up: imports, installation token, policy ETag
            sha = open_one(n)
            wait_for(lambda sha=sha: checked(simulator, sha), 120, "the warm-up check run")
        web_pids, worker_pids = children(web.pid), [worker.pid, *children(worker.pid)]
        rss_web, rss_worker = memory(web_pids, "VmRSS"), memory(worker_pids, "VmRSS")

        simulator.clear_requests()
        latencies = []
        for n in range(sequential):
            started = time.perf_counter()
            sha = open_one(100 + n)
            wait_for(lambda sha=sha: checked(simulator, sha), 60, "a check run")
            latencies.append(time.perf_counter() - started)
        paths = [
            r.path + ("?" + "&".join(f"{k}={v}" for k, v in r.query.items()) if r.query else "")
            for r in simulator.requests
            if r.method == "GET" and r.auth == "installation"
        ][: len(simulator.requests) // max(sequential, 1)]
        floor = io_floor(simulator, installed, paths)

        started = time.perf_counter()
        shas = [open_one(1000 + n) for n in range(burst)]
        for sha in shas:
            wait_for(lambda sha=sha: checked(simulator, sha), 300, "the burst's check runs")
        rate = burst / (time.perf_counter() - started)
        peak_web, peak_worker = memory(web_pids, "VmHWM"), memory(worker_pids, "VmHWM")
    finally:
        stop(worker)
        stop(auditor)
        stop(web)
        simulator.stop()
        broker.flushdb()
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return [
        Row(
            "end to end",
            "webhook -> check run p50",
            ms(p50),
            f"{ms(floor)} GitHub I/O floor",
            ratio(p50, floor),
        ),
        Row(
            "end to end",
            "webhook -> check run p99",
            ms(p99),
            f"{ms(floor)} GitHub I/O floor",
            ratio(p99, floor),
        ),
        Row(
            "end to end",
            f"evaluations/s, 1 worker process, burst of {burst}",
            f"{rate:.1f}/s",
            f"{1 / p50:.1f}/s one at a time",
            ratio(rate, 1 / p50),
        ),
        Row(
            "memory",
            "peak RSS, gunicorn worker",
            f"{peak_web:.0f} MiB",
            f"{rss_web:.0f} MiB after warm-up",
            ratio(peak_web, rss_web),
        ),
        Row(
            "memory",
            "peak RSS, Celery worker process",
            f"{peak_worker:.0f} MiB",
            f"{rss_worker:.0f} MiB after warm-up",
            ratio(peak_worker, rss_worker),
        ),
    ]
