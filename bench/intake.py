"""Intake: signed deliveries per second and acknowledgement latency of
POST /api/github/webhooks under gunicorn, against a bare HMAC-and-202 Flask endpoint on
the same server settings. The load generator runs in separate processes on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import redis

from app.simulator import keys
from bench.report import Row, ms, percentile, ratio
from bench.servers import BENCH_REDIS_URL, children, cpu_seconds, gunicorn, stop, workdir

SECRET = "bench-webhook-secret"
THREADS = 4
ROUNDS = 3
ROOT = Path(__file__).resolve().parent.parent


def load(url: str, body: Path, count: int, processes: int) -> dict:
    """`count` deliveries from `processes` generator processes; throughput and latencies."""
    env = {**os.environ, "WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    share = count // processes
    args = [
        sys.executable,
        "-m",
        "bench.loadgen",
        f"{url}/api/github/webhooks",
        "--body",
        str(body),
    ]
    runs = [
        subprocess.Popen(
            [*args, "--count", str(share), "--threads", str(THREADS)],
            env=env,
            stdout=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    results = [json.loads(run.communicate()[0]) for run in runs]
    latencies = [x for r in results for x in r["latencies"]]
    seconds = max(r["ended"] for r in results) - min(r["started"] for r in results)
    statuses: dict[str, int] = {}
    for r in results:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "rate": len(latencies) / seconds,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "statuses": statuses,
    }


def redis_cpu(broker: redis.Redis) -> float:
    info = broker.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measured_load(
    process: subprocess.Popen, url: str, body: Path, count: int, broker: redis.Redis
) -> dict:
    """`load`, plus the CPU per delivery of the server's gunicorn workers and of Redis."""
    workers = children(process.pid)
    web, queue = cpu_seconds(workers), redis_cpu(broker)
    result = load(url, body, count, 2)
    result["cpu"] = (cpu_seconds(workers) - web + redis_cpu(broker) - queue) / count
    return result


def median_run(runs: list[dict]) -> dict:
    """The median round of each figure (rounds alternate between the servers)."""
    keys = ("rate", "p50", "p99", "cpu")
    merged: dict = {key: percentile([r[key] for r in runs if key in r], 0.5) for key in keys}
    statuses: dict[str, int] = {}
    for r in runs:
        for code, n in r["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    merged["statuses"] = statuses
    return merged


def run(count: int) -> list[Row]:
    here = workdir()
    body = here / "pull_request.opened.json"
    fixture = resources.files("app.simulator.fixtures.webhooks") / "pull_request.opened.json"
    body.write_bytes(fixture.read_bytes())
    base_env = {**os.environ, "WEBHOOK_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    app_env = {
        **base_env,
        "APP_ID": "1",
        "PRIVATE_KEY": keys.private_key_pem(),
        "GITHUB_API_URL": "http://127.0.0.1:1",
        "REDIS_URL": BENCH_REDIS_URL,
        "DATABASE_URL": f"sqlite:///{here / 'foureyes.sqlite'}",
        "FOUREYES_INSTANCE_PATH": str(here / "instance"),
    }
    broker = redis.Redis.from_url(BENCH_REDIS_URL)
    broker.flushdb()
    servers = {
        "bare": gunicorn("bench.bare:create_app()", base_env, here, "bare"),
        "foureyes": gunicorn("app:create_app()", app_env, here, "foureyes"),
    }
    rounds: dict[str, list[dict]] = {"bare": [], "foureyes": [], "bare-1": []}
    try:
        for _, url in servers.values():
            load(url, body, 100, 1)  # warm-up: imports, connections
        # Alternate the two servers so that the machine's changing load hits both alike.
        for _ in range(ROUNDS):
            for name, (process, url) in servers.items():
                rounds[name].append(measured_load(process, url, body, count, broker))
                broker.flushdb()  # the queued deliveries: no worker runs here
            rounds["bare-1"].append(load(servers["bare"][1], body, count, 1))
    finally:
        for process, _ in servers.values():
            stop(process)
        broker.flushdb()
    figures = {name: median_run(runs) for name, runs in rounds.items()}
    bare, app, single = figures["bare"], figures["foureyes"], figures["bare-1"]
    accepted = app["statuses"].get("202", 0)
    return [
        Row(
            "intake",
            "deliveries/s (gunicorn, 2 sync workers)",
            f"{app['rate']:.0f}/s",
            f"{bare['rate']:.0f}/s bare",
            ratio(app["rate"], bare["rate"]),
            ">= 0.70",
        ),
        Row(
            "intake",
            "server CPU per delivery (gunicorn workers + Redis)",
            f"{app['cpu'] * 1e3:.2f} ms",
            f"{bare['cpu'] * 1e3:.2f} ms",
            ratio(app["cpu"], bare["cpu"]),
        ),
        Row(
            "intake",
            "ack latency p50",
            ms(app["p50"]),
            ms(bare["p50"]),
            ratio(app["p50"], bare["p50"]),
        ),
        Row(
            "intake",
            "ack latency p99",
            ms(app["p99"]),
            ms(bare["p99"]),
            ratio(app["p99"], bare["p99"]),
        ),
        Row(
            "intake",
            "generator ceiling: bare with 2 vs 1 generator processes",
            f"{bare['rate']:.0f}/s",
            f"{single['rate']:.0f}/s",
            ratio(bare["rate"], single["rate"]),
            "~1: the server, not the generator, limits",
        ),
        Row("intake", "deliveries answered 202", f"{accepted}/{sum(app['statuses'].values())}"),
    ]
