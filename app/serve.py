"""`foureyes serve`: web, worker and scheduler on one machine, as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import structlog

from app import preflight
from app.config import Settings
from app.console import start_child, start_facts
from app.db import make_engine
from app.migrate import upgrade
from workers import AUDIT_QUEUE, DEFAULT_QUEUE

log = structlog.get_logger()


def web_command(
    bind: str, workers: int, *extra: str, target: str = "app:create_app()"
) -> list[str]:
    """The gunicorn command (the Procfile's `web`), for `serve`, the tests and the bench."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--logger-class",
        "app.weblog.Logger",
        "--bind",
        bind,
        "--workers",
        str(workers),
        *extra,
        target,
    ]


def worker_command(
    concurrency: int,
    *extra: str,
    loglevel: str = "INFO",
    schedule: Path | None = None,
    queues: Sequence[str] = (),
) -> list[str]:
    """The Celery worker command (the Procfile's `worker`; with `schedule`, also `beat`),
    for `serve`, the tests and the bench; it consumes `queues` (none named: all of them).
    Gossip and mingle are off: foureyes uses neither remote revokes nor worker-to-worker
    events, and they slow every start. The banner is off (`--quiet`): the console carries
    JSON lines only."""
    command = [sys.executable, "-m", "celery", "-A", "workers", "--quiet", "worker"]
    if schedule is not None:
        command += ["--beat", "--schedule", str(schedule.resolve())]
    if queues:
        command += ["--queues", ",".join(queues)]
    command += ["--concurrency", str(concurrency), "--loglevel", loglevel]
    return [*command, "--without-gossip", "--without-mingle", *extra]


def audit_worker_command(*extra: str, loglevel: str = "INFO") -> list[str]:
    """The audit worker (the Procfile's `audit`): one process that appends the queued audit
    events, so that an evaluation never waits behind them on the `worker`'s pool."""
    return worker_command(1, "--pool", "solo", *extra, loglevel=loglevel, queues=(AUDIT_QUEUE,))


def commands(settings: Settings, host: str, port: int, workers: int) -> list[list[str]]:
    """The processes `serve` runs: gunicorn and (outside setup mode) a worker with beat and
    the audit worker."""
    web = web_command(f"{host}:{port}", workers, "--access-logfile", "-")
    if settings.setup_mode:
        return [web]
    worker = worker_command(
        workers,
        schedule=settings.instance_path / "celerybeat-schedule",
        queues=(DEFAULT_QUEUE,),
    )
    return [web, worker, audit_worker_command()]


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 3000, workers: int = 2) -> int:
    """Run until interrupted or until a child dies; returns the exit status. Every line on
    the console (stderr) is JSON, the children's too (`app.console`)."""
    preflight.require_server(settings)
    upgrade(make_engine(settings.database_url), settings.instance_path)
    env = os.environ.copy()
    log.info("serve.started", **start_facts(settings, host, port, workers))
    children = [
        # Named by the module each runs: gunicorn, celery.
        start_child(cmd, env, name=cmd[2])
        for cmd in commands(settings, host, port, workers)
    ]
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while not stopping:
        exited = [child for child in children if child.process.poll() is not None]
        if exited:
            status = exited[0].process.returncode or 1
            log.error("serve.child_exited", process=exited[0].name, status=status)
            break
        time.sleep(0.5)
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.process.kill()
        # Its last lines (a shutdown notice, a traceback) reach the console too.
        child.relaying.join(timeout=5)
    return status
