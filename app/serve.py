"""`foureyes serve`: web, worker and scheduler on one machine, as child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import structlog

from app import preflight
from app.config import Settings
from app.db import make_engine
from app.migrate import upgrade

log = structlog.get_logger()


def commands(settings: Settings, host: str, port: int, workers: int) -> list[list[str]]:
    """The processes `serve` runs: gunicorn, and (outside setup mode) a worker with beat."""
    web = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "app:create_app()",
    ]
    if settings.setup_mode:
        return [web]
    schedule = str((settings.instance_path / "celerybeat-schedule").resolve())
    worker = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers",
        "worker",
        "--beat",
        "--schedule",
        schedule,
        "--concurrency",
        str(workers),
        "--loglevel",
        "INFO",
    ]
    return [web, worker]


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 3000, workers: int = 2) -> int:
    """Run until interrupted or until a child dies; returns the exit status."""
    preflight.require_server(settings)
    upgrade(make_engine(settings.database_url), settings.instance_path)
    children = [
        subprocess.Popen(cmd, env=os.environ.copy())
        for cmd in commands(settings, host, port, workers)
    ]
    log.info(
        "serve.started",
        url=f"http://{host}:{port}",
        setup_mode=settings.setup_mode,
        broker="redis" if settings.redis_url else "embedded (SQLite)",
    )
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    while not stopping:
        exited = [child for child in children if child.poll() is not None]
        if exited:
            status = exited[0].returncode or 1
            log.error("serve.child_exited", args=exited[0].args[:4], status=status)
            break
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return status
