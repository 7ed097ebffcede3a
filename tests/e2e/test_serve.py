"""`foureyes serve` as a user runs it: web, worker and scheduler on one machine, on the
embedded default (no REDIS_URL: SQLite database, SQLite broker), against the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.simulator import Simulator
from tests.e2e.conftest import AGENT_POLICY, ROOT, free_port, wait_for, wait_ready

pytestmark = pytest.mark.e2e


def serve(workdir: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """`foureyes serve`: its stderr in `serve.log`, its stdout in `serve.out`."""
    log = open(workdir / "serve.log", "wb")  # noqa: SIM115 - lives as long as the process
    out = open(workdir / "serve.out", "wb")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=workdir,
        stdout=out,
        stderr=log,
        start_new_session=True,
    )


def console(workdir: Path) -> list[dict]:
    """Every line serve wrote, each a JSON object (its children's lines too); nothing on
    stdout."""
    assert (workdir / "serve.out").read_text() == ""
    lines = (workdir / "serve.log").read_text().splitlines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line on serve's console: {line!r}")
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def base_env(workdir: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "GITHUB_"))},
        "PYTHONPATH": str(ROOT),
        "FOUREYES_INSTANCE_PATH": str(workdir / "instance"),
    } | {key: "" for key in ("REDIS_URL", "DATABASE_URL", "APP_ID")}


@contextmanager
def serving(workdir: Path) -> Iterator[tuple[Simulator, str]]:
    """`foureyes serve` on the embedded default, installed on a simulator of its own and
    receiving its webhooks; (simulator, URL). Stopped on exit."""
    simulator = Simulator()
    simulator.start()
    installed = simulator.install(account="acme")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(workdir) | {
        "APP_ID": str(installed.app_id),
        "PRIVATE_KEY": installed.private_key,
        "WEBHOOK_SECRET": installed.webhook_secret,
        "GITHUB_API_URL": simulator.url,
        "FOUREYES_URL": url,
    }
    process = serve(workdir, env, port)
    try:
        wait_ready(url, [process], workdir, path="/healthz")
        simulator.configure_webhook(installed.app_id, url)
        yield simulator, url
    finally:
        stop(process)
        simulator.stop()


def test_serve_gates_a_pull_request_on_the_embedded_default(tmp_path: Path):
    """The gate works on serve's embedded default; and its console is JSON lines only
    (gunicorn's, Celery's, Python's warnings, Celery's shutdown notice), the start line
    saying what runs where, without the libraries' chatter."""
    repo = "acme/embedded"
    with serving(tmp_path) as (simulator, url):
        simulator.add_repo(repo, files={"README.md": "# x\n", ".github/foureyes.yml": AGENT_POLICY})
        simulator.add_user("maintainer")
        simulator.set_role(repo, "maintainer", "write")
        number = simulator.open_pull_request(
            repo, author="ci-agent-1", head_ref="fix", files={"a.py": "1\n"}
        )

        def conclusion() -> str | None:
            world = simulator.world
            with world.lock:
                head = world.repo(repo).pulls[number].head_sha
                runs = [r for r in world.check_runs.values() if r.head_sha == head]
            return runs[0].conclusion if runs and runs[0].status == "completed" else None

        wait_for(lambda: conclusion() == "action_required", 60, "the gate to block")
        simulator.review(repo, number, "maintainer")
        wait_for(lambda: conclusion() == "success", 60, "the gate to pass")
        assert httpx.get(f"{url}/no-such-page", timeout=5).status_code == 404
    assert (tmp_path / "instance" / "broker.sqlite").exists()
    assert (tmp_path / "instance" / "foureyes.sqlite").exists()

    entries = console(tmp_path)
    [started] = [entry for entry in entries if entry["event"] == "serve.started"]
    assert started["web"] == url and started["port"] == int(url.rsplit(":", 1)[1])
    assert started["worker"] == "celery, 1 process"
    assert started["scheduler"] == "celery beat, in the worker"
    assert started["database"].startswith("sqlite:///")
    assert started["redis"] is None and started["broker"] == "embedded (SQLite)"
    assert url in started["message"]
    loggers = {entry.get("logger", "") for entry in entries}
    assert not {name for name in loggers if name.startswith(("httpx", "alembic", "gunicorn"))}


def test_serve_without_an_app_id_serves_the_registration_page(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(tmp_path, base_env(tmp_path) | {"FOUREYES_URL": url}, port)
    try:
        wait_ready(url, [process], tmp_path, path="/healthz")
        page = httpx.get(f"{url}/", timeout=5)
        assert page.status_code == 200
        assert "setup code" in page.text and "manifest" not in page.text
        # The operator reads the one-time code on the console, in the `setup.open` line.
        entries = console(tmp_path)
        [opened] = [entry for entry in entries if entry["event"] == "setup.open"]
        assert opened["url"] == f"{url}/setup"
        [started] = [entry for entry in entries if entry["event"] == "serve.started"]
        assert started["setup_page"] == f"{url}/setup" and started["worker"] is None
        assert f"registration page {url}/setup" in started["message"]
        page = httpx.post(f"{url}/setup", data={"setup_code": opened["setup_code"]}, timeout=5)
        assert page.status_code == 200
        assert "manifest" in page.text
        webhook = httpx.post(f"{url}/api/github/webhooks", content=b"{}", timeout=5)
        assert webhook.status_code in (401, 503)
    finally:
        stop(process)


def test_serve_on_another_port_puts_that_port_in_every_url_it_shows(tmp_path: Path):
    """`serve --port 3001` without FOUREYES_URL: the console line, the page and the
    manifest's URLs use 3001 (they said 3000), and the page warns that GitHub cannot reach
    localhost."""
    port = free_port()
    env = base_env(tmp_path)
    env.pop("FOUREYES_URL", None)
    process = serve(tmp_path, env, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}", [process], tmp_path, path="/healthz")
        [opened] = [
            json.loads(line)
            for line in (tmp_path / "serve.log").read_text().splitlines()
            if '"setup.open"' in line
        ]
        assert opened["url"] == f"http://localhost:{port}/setup"
        assert "GitHub cannot reach" in opened["reachable"]
        page = httpx.post(
            f"http://127.0.0.1:{port}/setup",
            data={"setup_code": opened["setup_code"]},
            timeout=5,
        ).text
        assert f"http://localhost:{port}/api/github/webhooks" in page
        assert "localhost:3000" not in page
        assert f"ngrok http {port}" in page
    finally:
        stop(process)
