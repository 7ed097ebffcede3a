"""The processes `foureyes serve` and the Procfile run: every Celery queue has a consumer,
and audit appends have a worker of their own, so no evaluation waits behind them."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.serve import commands
from workers import AUDIT_QUEUE, CELERY_DEFAULTS, DEFAULT_QUEUE

ROOT = Path(__file__).resolve().parents[3]


def consumed(command: list[str]) -> str | None:
    return command[command.index("--queues") + 1] if "--queues" in command else None


def test_serve_runs_a_worker_with_beat_and_an_audit_worker(tmp_path: Path):
    settings = Settings.from_mapping(
        {"APP_ID": "1", "WEBHOOK_SECRET": "s", "FOUREYES_INSTANCE_PATH": str(tmp_path)}
    )
    web, worker, audit = commands(settings, "127.0.0.1", 3000, 2)
    assert "gunicorn" in web
    assert consumed(worker) == DEFAULT_QUEUE and "--beat" in worker
    assert consumed(audit) == AUDIT_QUEUE and "--beat" not in audit
    assert audit[audit.index("--concurrency") + 1] == "1"


def test_the_procfile_consumes_every_queue_once():
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    queues = [queue.name for queue in CELERY_DEFAULTS["task_queues"]]
    workers = [consumed(command.split()) for command in procfile.values() if " worker " in command]
    assert sorted(workers) == sorted(queues)
    assert consumed(procfile["audit"].split()) == AUDIT_QUEUE
