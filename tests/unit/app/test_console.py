"""What the commands print on stderr: `serve`'s start line (no password in it), and human
text for the other commands, libraries' lines only with --verbose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.config import Settings
from app.console import redact_url, start_facts

ROOT = Path(__file__).resolve().parents[3]


def test_urls_lose_their_password():
    assert redact_url("postgresql://audit:s3cret@db:5432/foureyes") == (
        "postgresql://audit:***@db:5432/foureyes"
    )
    assert redact_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact_url("sqlite:///instance/foureyes.sqlite") == "sqlite:///instance/foureyes.sqlite"


def test_the_start_line_says_what_runs_where_without_secrets():
    settings = Settings.from_mapping(
        {
            "APP_ID": "1",
            "WEBHOOK_SECRET": "w",
            "PRIVATE_KEY": "k",
            "FOUREYES_URL": "https://gate.example.org",
            "DATABASE_URL": "postgresql://audit:s3cret@db/foureyes",
            "REDIS_URL": "redis://:s3cret@cache:6379/0",
        }
    )
    facts = start_facts(settings, "127.0.0.1", 8000, 3)
    assert "s3cret" not in json.dumps(facts)
    assert (
        facts["web"] == "http://127.0.0.1:8000"
        and facts["public_url"] == "https://gate.example.org"
    )
    assert facts["database"] == "postgresql://audit:***@db/foureyes"
    assert facts["redis"] == facts["broker"] == "redis://:***@cache:6379/0"
    assert facts["worker"] == "celery, 3 processes" and facts["scheduler"]
    assert "setup_page" not in facts


def foureyes(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOUREYES_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=env | {"PYTHONPATH": str(ROOT), "APP_ID": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_commands_print_human_text_and_library_lines_only_when_verbose(tmp_path: Path):
    quiet = foureyes("db", "upgrade", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "database is at the newest revision\n"
    assert quiet.stderr == ""
    verbose = foureyes("--verbose", "db", "upgrade", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    lines = verbose.stderr.splitlines()
    assert "info: Context impl SQLiteImpl. (logger=alembic.runtime.migration)" in lines
    assert not [line for line in lines if line.startswith("{")]
