"""A test whose request the simulator refused fails, unless it takes the refusal.

Runs pytest on a small test file, with `tests/conftest.py` loaded as a plugin, in a
child process: the teardown error is the outcome under test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TESTS = """
import httpx


def test_sends_what_github_refuses(simulator):
    assert httpx.delete(simulator.url + "/app").status_code == 404


def test_expects_the_refusal(simulator):
    assert httpx.get(simulator.url + "/nope").status_code == 404
    assert [r.kind for r in simulator.take_refusals()] == ["unknown_path"]


def test_sends_nothing_wrong(simulator):
    assert httpx.get(simulator.url + "/users/octocat").status_code == 404
"""


def test_a_refused_request_fails_the_test_that_sent_it(tmp_path: Path) -> None:
    (tmp_path / "test_refused.py").write_text(TESTS)
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider"]
    command += ["-q", "-rE", "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert "3 passed, 1 error" in run.stdout, run.stdout + run.stderr
    errors = [line for line in run.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(errors) == 1 and "test_refused.py::test_sends_what_github_refuses" in errors[0]
    assert "DELETE /app -> 404 (method: DELETE not among GitHub's ['GET'])" in run.stdout
