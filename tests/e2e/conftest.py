"""End-to-end fixtures: gunicorn and a Celery worker as real processes, real Redis, the
simulator over real HTTP. One stack per test session; tests isolate by repository name.

`stack.wait_check(repo, sha)` polls the simulator until the gate's check run on `sha`
is completed with the wanted conclusion (or times out, showing what is there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy

from app import serve
from app.db import normalise_url
from app.simulator import Installed, Simulator
from app.simulator.model import CheckRun
from tests.conftest import POSTGRES_URL

# Parallel runs (several developers on one machine) pick distinct databases.
ROOT = Path(__file__).resolve().parents[2]
E2E_REDIS_DB = int(os.environ.get("E2E_REDIS_DB", "14"))
ADMIN_TOKEN = "e2e-admin-token"
CHECK_NAME = "foureyes"
# The policy most end-to-end tests put on the default branch: `ci-agent-*` logins are
# agents, and their pull requests need one approval with write permission.
AGENT_POLICY = """\
version: 1
agents:
  logins: ["ci-agent-*"]
merge:
  rules:
    - name: human review
      require: {approvals: 1, permission: write}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def wait_ready(
    url: str, processes: list[subprocess.Popen], logs: Path, path: str = "/readyz"
) -> None:
    """Wait until `url + path` answers 200; fail at once if one of `processes` exits."""

    def ready() -> bool:
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args[2:4]} exited; see the logs in {logs}")
        try:
            return httpx.get(f"{url}{path}", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, f"{url}{path} to answer")


@dataclass
class Stack:
    simulator: Simulator
    installed: Installed
    url: str
    env: dict[str, str]
    workdir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def world(self) -> Any:
        return self.simulator.world

    def repo(self, prefix: str = "repo", files: dict[str, str] | None = None, **roles: str) -> str:
        """A fresh repository in `acme` (isolates tests) with `login=role` collaborators."""
        name = f"acme/{prefix}-{uuid.uuid4().hex[:8]}"
        self.simulator.add_repo(name, files=files or {"README.md": "# test\n"})
        for login, role in roles.items():
            self.simulator.add_user(login)
            self.simulator.set_role(name, login, role)
        return name

    def check_runs(self, repo: str, sha: str) -> list[CheckRun]:
        with self.world.lock:
            return [
                run
                for run in self.world.check_runs.values()
                if run.repo.lower() == repo.lower()
                and run.head_sha == sha
                and run.name == CHECK_NAME
            ]

    def wait_check(self, repo: str, sha: str, conclusion: str, timeout: float = 30.0) -> CheckRun:
        def done() -> CheckRun | None:
            runs = self.check_runs(repo, sha)
            if runs and runs[0].status == "completed" and runs[0].conclusion == conclusion:
                return runs[0]
            return None

        try:
            return wait_for(done, timeout, f"check {conclusion} on {repo}@{sha[:7]}")
        except pytest.fail.Exception:
            runs = self.check_runs(repo, sha)
            seen = [(r.status, r.conclusion, r.output.get("title")) for r in runs]
            pytest.fail(f"wanted {conclusion} on {repo}@{sha[:7]}, saw {seen}")

    def head(self, repo: str, number: int) -> str:
        with self.world.lock:
            return self.world.repo(repo).pulls[number].head_sha

    def settle(self, timeout: float = 30.0, quiet: float = 1.0) -> None:
        """Wait until the broker queues are empty and no evaluation is pending, and stay so
        for `quiet` seconds: a worker takes a message off its queue a moment before it
        records it as unacknowledged, and one look can fall into that moment."""
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        idle_since: list[float] = []

        def idle() -> bool:
            queued = client.llen("celery") + client.llen("audit")
            unacked = client.hlen("unacked")
            pending = any(True for _ in client.scan_iter("foureyes:pending:*", count=1000))
            if queued or unacked or pending:
                idle_since.clear()
                return False
            idle_since[:] = idle_since or [time.monotonic()]
            return time.monotonic() - idle_since[0] >= quiet

        try:
            wait_for(idle, timeout, "the queues to drain")
        except pytest.fail.Exception:
            unacked = [str(v)[:300] for v in client.hvals("unacked")]
            pending = [key.decode() for key in client.scan_iter("foureyes:pending:*", count=1000)]
            queued = {name: client.llen(name) for name in ("celery", "audit")}
            pytest.fail(
                f"the queues did not drain in {timeout}s: {queued}, pending {pending},"
                f" unacknowledged {unacked}"
            )

    def audit(self, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/api/audit/events",
            params={"limit": "500", **params},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["events"]


def start_process(
    name: str, args: list[str], env: dict[str, str], workdir: Path
) -> subprocess.Popen:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(args, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_command() -> list[str]:
    return serve.worker_command(2)


def app_env(
    installed: Installed,
    github_url: str,
    url: str,
    database_url: str,
    redis_url: str,
    workdir: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment of foureyes' processes: this machine's, less any foureyes or GitHub
    settings of the developer's, plus the stack's."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "GITHUB_"))},
        "APP_ID": str(installed.app_id),
        "PRIVATE_KEY": installed.private_key,
        "WEBHOOK_SECRET": installed.webhook_secret,
        "GITHUB_API_URL": github_url,
        "FOUREYES_URL": url,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FOUREYES_ADMIN_TOKEN": ADMIN_TOKEN,
        "FOUREYES_INSTANCE_PATH": str(workdir / "instance"),
        # The processes run this checkout's code, whichever checkout pip installed.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    }


@pytest.fixture(scope="session")
def e2e_database_url(
    tmp_path_factory: pytest.TempPathFactory, _postgres_reachable: str | None
) -> Iterator[str]:
    """A fresh PostgreSQL database for the stack (production's setup), dropped afterwards;
    SQLite when PostgreSQL is down (and not CI)."""
    if _postgres_reachable:
        if os.environ.get("CI"):
            pytest.fail(f"{_postgres_reachable} (required when CI is set)")
        print(f"e2e uses SQLite: {_postgres_reachable}")
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'foureyes.sqlite'}"
        return
    name = f"foureyes_e2e_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, _redis_reachable: str | None, e2e_database_url: str
) -> Iterator[Stack]:
    if _redis_reachable:
        if os.environ.get("CI"):
            pytest.fail(f"{_redis_reachable} (required when CI is set)")
        pytest.skip(_redis_reachable)
    workdir = tmp_path_factory.mktemp("e2e")
    redis_url = f"redis://127.0.0.1:6379/{E2E_REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    simulator = Simulator()
    simulator.start()
    installed = simulator.install(account="acme")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = app_env(installed, simulator.url, url, e2e_database_url, redis_url, workdir)
    stack = Stack(simulator, installed, url, env, workdir)
    stack.processes["web"] = start_process(
        "web",
        serve.web_command(f"127.0.0.1:{port}", 2),
        env,
        workdir,
    )
    stack.processes["worker"] = start_process("worker", worker_command(), env, workdir)

    wait_ready(url, list(stack.processes.values()), workdir)
    simulator.configure_webhook(installed.app_id, url)
    try:
        yield stack
    finally:
        for process in stack.processes.values():
            stop_process(process)
        simulator.stop()
        redis.Redis.from_url(redis_url).flushdb()
