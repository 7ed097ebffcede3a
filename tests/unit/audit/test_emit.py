"""emit(): what callers get back, what lands in the log, and what is redacted."""

import json
import os
import secrets
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app import create_app
from app.audit.emit import emit
from app.audit.query import events, latest
from app.errors import TransientError
from tests.unit.audit.conftest import app_settings

ROOT = Path(__file__).resolve().parents[3]


def stored(flask_app):
    with flask_app.extensions["foureyes"].sessions() as session:
        return events(session, limit=500)


def test_emit_appends_through_the_audit_job(flask_app):
    before = datetime.now(UTC)
    with flask_app.app_context():
        emit(
            "token.issued",
            subject="token:t1",
            installation_id=42,
            repository="acme/app",
            agent="repo:acme/agents:ref:refs/heads/main",
            decision="allow",
            data={"token_id": "t1", "permissions": {"contents": "write"}, "ttl": 900},
        )
    (event,) = stored(flask_app)
    assert (event.seq, event.type, event.subject, event.installation_id) == (
        1,
        "token.issued",
        "token:t1",
        42,
    )
    assert event.data["permissions"] == {"contents": "write"}
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(event.ts) <= datetime.now(UTC)
    assert uuid.UUID(event.key).version == 4


def test_a_natural_key_makes_a_repeated_emit_a_no_op(flask_app):
    with flask_app.app_context():
        for _ in range(3):
            emit(
                "webhook.received",
                subject="acme/app#7",
                data={"event": "pull_request", "action": "opened", "delivery": "d-1"},
                key="webhook.received:d-1",
            )
        emit("webhook.received", subject="acme/app#7", key="webhook.received:d-2")
    assert [e.key for e in stored(flask_app)] == ["webhook.received:d-1", "webhook.received:d-2"]


def test_latest_finds_the_newest_event_about_a_subject(flask_app):
    with flask_app.app_context():
        for conclusion in ("action_required", "success"):
            emit("gate.evaluated", subject="acme/app#7", decision=conclusion)
        emit("gate.evaluated", subject="acme/app#8", decision="failure")
    with flask_app.extensions["foureyes"].sessions() as session:
        assert latest(session, type="gate.evaluated", subject="acme/app#7").decision == "success"
        assert latest(session, type="check.published", subject="acme/app#7") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "token.leaked"}, "unknown audit event type"),
        ({"data": {"at": datetime.now(UTC)}}, "not JSON-serialisable"),
    ],
)
def test_bad_events_raise_value_error_and_write_nothing(flask_app, kwargs, message):
    kwargs = {"type": "token.issued", "subject": "token:t1", **kwargs}
    with flask_app.app_context(), pytest.raises(ValueError, match=message):
        emit(kwargs.pop("type"), **kwargs)
    assert stored(flask_app) == []


def test_an_unreachable_broker_raises_transient_error(tmp_path, sqlite_url):
    settings = app_settings(
        tmp_path, sqlite_url, FOUREYES_EAGER="", REDIS_URL="redis://127.0.0.1:1/0"
    )
    flask_app = create_app(settings)
    with flask_app.app_context(), pytest.raises(TransientError, match="not queued"):
        emit("token.revoked", subject="token:t1")


def test_a_locked_database_in_eager_mode_raises_transient_error(flask_app, tmp_path):
    """Eager mode (tests, demo) writes inline: a write that fails is reported, not lost."""
    deps = flask_app.extensions["foureyes"]
    deps.engine = create_engine(str(deps.engine.url), connect_args={"timeout": 0.1})
    holder = sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with flask_app.app_context(), pytest.raises(TransientError):
            emit("token.revoked", subject="token:t1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert stored(flask_app) == []


def leaves(value):
    """Every string value inside `value` (not the keys)."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def github_token(prefix="ghs_"):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(36))


@pytest.mark.parametrize(
    "data",
    [
        {"token": "opaque"},
        {"nested": [{"private_key": "x"}]},
        {"Secret": "x"},
        {"password": "hunter2"},
        {"note": f"minted {github_token('ghs_')}"},
        {"note": github_token("ghp_")},
        {"note": github_token("gho_")},
        {"note": github_token("ghu_")},
        {"note": "github_pat_" + "A1b2C3d4" * 8},
    ],
)
def test_secrets_in_data_are_redacted_and_the_event_still_recorded(flask_app, data):
    with flask_app.app_context():
        emit("token.issued", subject="token:t1", data=data)
    [event] = stored(flask_app)
    for value in leaves(data):
        assert value not in json.dumps(event.data)
    assert event.data["redacted"]
    assert "[redacted sha256:" in json.dumps(event.data)


@pytest.mark.parametrize("field", ["reason", "actor", "agent", "subject", "key"])
def test_a_token_in_any_field_is_redacted_and_named(flask_app, field):
    token = github_token()
    fields = {"subject": "token:t1", field: f"bad {token}"}
    with flask_app.app_context():
        emit("token.denied", **fields)
    [event] = stored(flask_app)
    assert token not in repr(
        (event.reason, event.actor, event.agent, event.subject, event.key, event.data)
    )
    assert getattr(event, field).startswith("bad [redacted sha256:")
    assert event.data["redacted"] == [field]


def test_secrets_never_reach_the_database_or_the_logs(tmp_path, sqlite_url):
    """The real path in a real process, with realistic data: what a token broker and a
    webhook intake record, plus mistaken calls. The raw token, the private key and the
    webhook secret appear in no byte of the database files and no line the process logs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    planted = {
        "PLANTED_TOKEN": github_token(),
        "PRIVATE_KEY": pem,
        "WEBHOOK_SECRET": "whsec-" + secrets.token_hex(16),
    }
    env = {
        **os.environ,
        **planted,
        "APP_ID": "12345",
        "DATABASE_URL": sqlite_url,
        "FOUREYES_INSTANCE_PATH": str(tmp_path / "instance"),
        "FOUREYES_EAGER": "1",
    }
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.unit.audit.secret_story"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    logs = done.stdout + done.stderr
    assert done.returncode == 0, logs
    assert "redacted 5 of 5" in done.stdout
    assert logs.count('"event": "audit.appended"') == 7  # the log is really captured here

    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        assert [e.type for e in events(session)] == ["token.issued", "webhook.received"] + [
            "token.issued"
        ] * 5
    engine.dispose()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "audit.sqlite" for p in files)
    secrets_planted = [
        planted["PLANTED_TOKEN"],
        pem.splitlines()[1],  # a line of the key's body
        planted["WEBHOOK_SECRET"],
    ]
    for secret in secrets_planted:
        assert secret not in logs
        for path in files:
            assert secret.encode() not in path.read_bytes(), path


def test_the_audit_job_retries_while_the_database_is_locked(flask_app, tmp_path):
    """The job on the audit queue is retried (with backoff, without limit) rather than
    dropped; once the database is back, the same job writes the event."""
    from celery.exceptions import Retry

    from tests.unit.audit.appender import sample_event
    from workers.audit import append_event

    deps = flask_app.extensions["foureyes"]
    real_engine = deps.engine
    deps.engine = create_engine(str(real_engine.url), connect_args={"timeout": 0.1})
    holder = sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    task = flask_app.extensions["celery"].tasks[append_event.name]
    try:
        with pytest.raises(Retry) as retried:
            task.apply(args=(sample_event(1),), throw=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert retried.value.when > 0
    assert task.max_retries is None and task.acks_late
    deps.engine = real_engine
    assert task.apply(args=(sample_event(1),), throw=True).get() == 1
    assert [e.key for e in stored(flask_app)] == ["test:1"]
