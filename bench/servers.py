"""Start and stop the processes a benchmark measures; read their memory from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from app.serve import audit_worker_command, web_command, worker_command

BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
WEB_WORKERS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start `args` in the log's folder, its output going to `log`."""
    handle = log.open("wb")
    return subprocess.Popen(args, env=env, cwd=log.parent, stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gunicorn(
    target: str, env: dict[str, str], workdir: Path, name: str
) -> tuple[subprocess.Popen, str]:
    """gunicorn with the Procfile's settings (sync workers, `WEB_WORKERS` of them)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = web_command(f"127.0.0.1:{port}", WEB_WORKERS, "--log-level", "warning", target=target)
    process = spawn(args, env, workdir / f"{name}.log")

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited; see {workdir / (name + '.log')}")
        try:
            httpx.get(url + "/", timeout=1)
        except httpx.HTTPError:
            return False
        return len(children(process.pid)) >= WEB_WORKERS

    wait_for(up, 60, f"{name} to listen")
    return process, url


def celery_worker(
    env: dict[str, str], workdir: Path, concurrency: int = 1, queues: Sequence[str] = ()
) -> subprocess.Popen:
    command = worker_command(concurrency, loglevel="WARNING", queues=queues)
    return spawn(command, env, workdir / "worker.log")


def audit_worker(env: dict[str, str], workdir: Path) -> subprocess.Popen:
    """The audit worker of `foureyes serve` and the Procfile's `audit`."""
    return spawn(audit_worker_command(loglevel="WARNING"), env, workdir / "audit-worker.log")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used so far (from /proc)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, field: str) -> int:
    """`VmRSS` or `VmHWM` (peak RSS) of a process, in KiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="foureyes-bench-"))
