"""A real Celery worker is killed with SIGKILL while it runs an audit job: the event is
not lost, and lands exactly once, when the next worker picks the job up again."""

import os
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from app.audit.emit import emit
from app.audit.models import AuditEvent
from app.audit.verify import verify
from app.db import make_engine
from app.serve import worker_command
from tests.unit.audit.conftest import app_settings

pytestmark = pytest.mark.redis

VISIBILITY_TIMEOUT = 3
ROOT = Path(__file__).resolve().parents[3]


def start_worker(env, log_path):
    log = open(log_path, "ab")  # noqa: SIM115 - the worker writes it until it dies
    return subprocess.Popen(
        worker_command(1, "-Q", "audit", "--without-heartbeat"),
        cwd=env["FOUREYES_INSTANCE_PATH"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its pool children die with it on killpg
    )


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def count_key(engine, key):
    with Session(engine) as session:
        return session.scalar(select(func.count()).where(AuditEvent.key == key))


def test_a_killed_worker_loses_no_event_and_writes_it_once(tmp_path, sqlite_url, redis_url):
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FOUREYES_", "APP_ID", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DATABASE_URL=sqlite_url,
        REDIS_URL=redis_url,
        FOUREYES_INSTANCE_PATH=str(instance),
        FOUREYES_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        # Celery's own INFO lines ("Task ... received"), which the test waits for.
        FOUREYES_VERBOSE="1",
        PYTHONPATH=str(ROOT),
    )
    engine = make_engine(sqlite_url)
    key = f"test.worker-kill:{uuid.uuid4()}"
    log_path = tmp_path / "worker.log"

    # Hold the chain lock so that the job blocks inside its append, before it commits.
    holder = sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    first = start_worker(env, log_path)
    second = None
    try:
        flask_app = create_app(
            app_settings(tmp_path, sqlite_url, FOUREYES_EAGER="", REDIS_URL=redis_url)
        )
        with flask_app.app_context():
            emit("token.revoked", subject="token:t-kill", key=key, data={"token_id": "t-kill"})
        wait_for(
            lambda: (
                b"workers.audit.append_event" in log_path.read_bytes()
                and b"received" in log_path.read_bytes()
            ),
            60,
            "the first worker to receive the job",
        )
        time.sleep(1)  # it is now waiting for the chain lock
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        holder.execute("ROLLBACK")
        assert count_key(engine, key) == 0

        time.sleep(VISIBILITY_TIMEOUT + 1)  # the unacknowledged job is due for redelivery
        second = start_worker(env, log_path)
        wait_for(lambda: count_key(engine, key) == 1, 60, "the second worker to append it")
        time.sleep(VISIBILITY_TIMEOUT * 2)  # a late duplicate delivery would land by now
        assert count_key(engine, key) == 1
        with Session(engine) as session:
            verdict = verify(session)
        assert verdict.ok, verdict.describe()
    finally:
        holder.close()
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
        engine.dispose()
