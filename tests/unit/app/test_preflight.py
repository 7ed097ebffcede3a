"""Preflight through the real `foureyes` command: each misconfiguration is one line that
names the variable, exit status 2, and no traceback; nothing starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.simulator import Installed, Simulator, keys

ROOT = Path(__file__).resolve().parents[3]


def foureyes(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "FOUREYES_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5999/test"},
            "Error: DATABASE_URL: cannot connect to 127.0.0.1:5999 (connection refused)",
        ),
        (
            {"DATABASE_URL": "notaurl"},
            "Error: DATABASE_URL: 'notaurl' is not a database URL (e.g. sqlite:///instance/f.db)",
        ),
        (
            {"DATABASE_URL": "mysql://root@127.0.0.1/test"},
            "Error: DATABASE_URL: the driver for mysql is missing (MySQLdb): "
            "pip install mysqlclient (or use mysql+pymysql:// with pymysql)",
        ),
        (
            {"DATABASE_URL": "nosuchdb://x/y"},
            "Error: DATABASE_URL: unknown database kind 'nosuchdb'",
        ),
        (
            {"REDIS_URL": "redis://127.0.0.1:5998/0"},
            "Error: REDIS_URL: cannot connect to 127.0.0.1:5998 (connection refused)",
        ),
    ],
)
def test_db_upgrade_and_serve_refuse_unreachable_services_in_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    assert one_error_line(foureyes(tmp_path, "serve", "--port", "0", **env)) == expected
    if "DATABASE_URL" in env:
        assert one_error_line(foureyes(tmp_path, "db", "upgrade", **env)) == expected


def test_an_app_id_without_a_webhook_secret_is_one_line(tmp_path: Path) -> None:
    result = foureyes(
        tmp_path,
        "serve",
        APP_ID="12",
        PRIVATE_KEY=keys.private_key_pem(),
        GITHUB_API_URL="http://127.0.0.1:9",
    )
    assert one_error_line(result) == "Error: WEBHOOK_SECRET: required when APP_ID is set"


def test_a_private_key_that_is_not_a_key_stops_serve(tmp_path: Path) -> None:
    result = foureyes(tmp_path, "serve", APP_ID="12", PRIVATE_KEY="not a key", WEBHOOK_SECRET="s")
    line = one_error_line(result)
    assert line.startswith("Error: PRIVATE_KEY: not a PEM private key (")
    assert not (tmp_path / "instance" / "celerybeat-schedule").exists()


def test_a_key_github_refuses_for_the_app_id_is_reported(
    tmp_path: Path, simulator: Simulator, installed: Installed
) -> None:
    """The key parses, but GitHub (the simulator) does not accept its JWT for APP_ID;
    `doctor --json` says so in JSON too."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    env = {
        "APP_ID": str(installed.app_id),
        "PRIVATE_KEY": pem,
        "WEBHOOK_SECRET": "s",
        "GITHUB_API_URL": simulator.url,
    }
    problem = (
        f"PRIVATE_KEY: GitHub at {simulator.url} refuses it for APP_ID {installed.app_id} "
        "(A JSON web token could not be decoded)"
    )
    assert one_error_line(foureyes(tmp_path, "doctor", **env)) == f"Error: {problem}"
    as_json = foureyes(tmp_path, "doctor", "--json", **env)
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout) == {"ok": False, "could_not_run": [problem]}


def test_the_right_key_passes_preflight(
    tmp_path: Path, simulator: Simulator, installed: Installed
) -> None:
    env = {
        "APP_ID": str(installed.app_id),
        "PRIVATE_KEY": installed.private_key,
        "WEBHOOK_SECRET": "s",
        "GITHUB_API_URL": simulator.url,
    }
    result = foureyes(tmp_path, "db", "upgrade", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database is at the newest revision"
