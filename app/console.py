"""What `foureyes serve` writes on its console (stderr), all of it JSON lines: the line at
start that says what runs where, and its children's output (gunicorn's and Celery's lines
are JSON already; anything else they print, such as Celery's shutdown notice or a crash's
traceback, is wrapped into one JSON line per line)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.config import Settings

log = structlog.get_logger()
_write_lock = threading.Lock()


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***` (database and Redis URLs)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def _processes(count: int) -> str:
    return "1 process" if count == 1 else f"{count} processes"


def start_facts(settings: Settings, host: str, port: int, workers: int) -> dict[str, Any]:
    """What `serve` runs where, for its first console line; no secret in it."""
    web = f"http://{host}:{port}"
    broker = redact_url(settings.redis_url) if settings.redis_url else "embedded (SQLite)"
    facts: dict[str, Any] = {
        "web": web,
        "port": port,
        "public_url": settings.foureyes_url,
        "web_processes": workers,
        "database": redact_url(settings.database_url),
        "redis": redact_url(settings.redis_url) if settings.redis_url else None,
        "broker": broker,
    }
    if settings.setup_mode:
        facts.update(worker=None, scheduler=None, setup_page=f"{settings.foureyes_url}/setup")
        facts["message"] = (
            f"foureyes setup mode: registration page {facts['setup_page']} (web on {web}); "
            "no worker or scheduler until the app is registered"
        )
        return facts
    processes = _processes(workers)
    facts.update(worker=f"celery, {processes}", scheduler="celery beat, in the worker")
    facts["message"] = (
        f"foureyes serving {settings.foureyes_url}: web on {web} ({processes}), "
        f"worker ({processes}) and scheduler; database {facts['database']}; broker {broker}"
    )
    return facts


def _is_json_object(line: str) -> bool:
    if not line.startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def relay(stream: IO[bytes], process: str) -> None:
    """Copy a child's output to stderr: JSON lines as they are, other lines wrapped."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip("\r\n")
        if not line.strip():
            continue
        if _is_json_object(line):
            with _write_lock:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        else:
            log.warning("serve.output", process=process, line=line)


@dataclass
class Child:
    """A process `serve` started, and the thread relaying its output."""

    name: str
    process: subprocess.Popen[bytes]
    relaying: threading.Thread


def start_child(command: Sequence[str], env: Mapping[str, str], name: str) -> Child:
    """Start `command` with its stdout and stderr relayed to this console."""
    process = subprocess.Popen(
        list(command), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    relaying = threading.Thread(
        target=relay, args=(process.stdout, name), name=f"relay-{name}", daemon=True
    )
    relaying.start()
    return Child(name, process, relaying)
