"""Webhook intake through HTTP: signature, de-duplication, limits, and never-202-unqueued."""

import hashlib
import hmac
import json
import uuid
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.audit.query import events
from app.config import Settings

SECRET = "webhook-secret-for-tests"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, body: bytes, *, event="ping", delivery=None, signature=None, **headers):
    return client.post(
        "/api/github/webhooks",
        data=body,
        headers={
            "Content-Type": headers.pop("content_type", "application/json"),
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body) if signature is None else signature,
            **headers,
        },
    )


def intake_app(tmp_path: Path, private_key: str, **env: str) -> Flask:
    """The app on SQLite with the tests' webhook secret; `env` adds or overrides settings."""
    settings = Settings.from_mapping(
        {
            "APP_ID": "1",
            "PRIVATE_KEY": private_key,
            "WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": "http://127.0.0.1:1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(tmp_path),
            **env,
        }
    )
    return create_app(settings)


@pytest.fixture
def flask_app(tmp_path, app_private_key):
    return intake_app(tmp_path, app_private_key, FOUREYES_EAGER="1")


def received(flask_app) -> list:
    with flask_app.extensions["foureyes"].sessions() as session:
        return events(session, type="webhook.received")


BODY = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "sha256=" + "0" * 64,
        sign(BODY, "another-secret"),
        sign(BODY + b" "),
        "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
        "sha256=" + "é" * 64,
    ],
)
def test_invalid_signature_is_rejected_and_does_nothing(flask_app, signature):
    client = flask_app.test_client()
    delivery = str(uuid.uuid4())
    response = post(client, BODY, delivery=delivery, signature=signature)
    assert response.status_code == 401
    assert received(flask_app) == []
    # Nothing was remembered either: the genuine delivery with that id is accepted.
    assert post(client, BODY, delivery=delivery).status_code == 202
    assert [e.data["delivery"] for e in received(flask_app)] == [delivery]


def test_missing_signature_header_is_rejected(flask_app):
    response = flask_app.test_client().post(
        "/api/github/webhooks",
        data=BODY,
        headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": str(uuid.uuid4())},
    )
    assert response.status_code == 401
    assert received(flask_app) == []


def test_duplicate_delivery_is_acknowledged_and_not_processed_again(flask_app):
    client = flask_app.test_client()
    delivery = str(uuid.uuid4())
    assert post(client, BODY, delivery=delivery).status_code == 202
    second = post(client, BODY, delivery=delivery)
    assert second.status_code == 200
    assert second.get_json()["status"] == "duplicate"
    assert len(received(flask_app)) == 1


@pytest.mark.parametrize(
    "body, headers",
    [
        (b"not json", {}),
        (b"[1, 2, 3]", {}),
        (b"\xff\xfe", {}),
        (json.dumps({"a": 1}).encode(), {"event": ""}),
        (json.dumps({"a": 1}).encode(), {"delivery": "x" * 200}),
        (b'{"a": NaN}', {}),
        (b'{"a": "\\ud800"}', {}),
        (b'{"a": ' * 513 + b"1" + b"}" * 513, {}),
    ],
    ids=["text", "array", "not-utf8", "no-event", "long-delivery", "nan", "surrogate", "deep"],
)
def test_malformed_delivery_is_400(flask_app, body, headers):
    """Not a JSON object the worker can read: refused, nothing queued. (orjson checks
    what the standard library lets through; nesting past MAX_DEPTH would break the
    worker's recursive decoder after the intake had said 202.)"""
    response = post(flask_app.test_client(), body, **headers)
    assert response.status_code == 400
    assert received(flask_app) == []


def test_form_encoded_delivery_is_accepted(flask_app):
    from urllib.parse import urlencode

    body = urlencode({"payload": BODY.decode()}).encode()
    response = post(flask_app.test_client(), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 202


def test_many_brackets_but_shallow_nesting_is_accepted(flask_app):
    body = json.dumps({"items": [{"n": n} for n in range(2000)]}).encode()
    assert post(flask_app.test_client(), body).status_code == 202


def test_over_25_mb_is_413(flask_app):
    body = b'{"a": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    response = post(flask_app.test_client(), body)
    assert response.status_code == 413
    assert received(flask_app) == []


def test_unqueueable_delivery_is_503_never_202(tmp_path, app_private_key):
    flask_app = intake_app(tmp_path, app_private_key, REDIS_URL="redis://127.0.0.1:1/0")
    response = post(flask_app.test_client(), BODY)
    assert response.status_code == 503
    assert received(flask_app) == []


def test_unknown_events_are_acknowledged_and_ignored(flask_app):
    body = json.dumps({"action": "created", "starred_at": None}).encode()
    assert post(flask_app.test_client(), body, event="star").status_code == 202
    assert [e.data["event"] for e in received(flask_app)] == ["star"]


def test_a_delivery_still_being_queued_is_not_called_a_duplicate(flask_app):
    """An id held by an intake that died between recording and queueing answers 503 (GitHub
    records a failure and redelivers), and is accepted once the short hold expires."""
    import time

    client = flask_app.test_client()
    delivery = str(uuid.uuid4())
    flask_app.extensions["foureyes"].state.set(f"delivery:{delivery}", "queuing", 0.5)
    assert post(client, BODY, delivery=delivery).status_code == 503
    assert received(flask_app) == []
    time.sleep(0.6)
    assert post(client, BODY, delivery=delivery).status_code == 202
    assert post(client, BODY, delivery=delivery).status_code == 200
    assert [e.data["delivery"] for e in received(flask_app)] == [delivery]
