"""Hostile input on the two endpoints anyone can reach: the webhook intake and the token
broker. Random bodies, headers, encodings, huge and deeply nested JSON, wrong content
types: never a 5xx, never a crash, memory bounded.

The apps run with a real (SQLite) Celery broker and no worker: intake queues for real,
as in production, and nothing is processed inline.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import string
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from app.demo.stack import eager_app
from app.simulator import Installed, Simulator
from tests.oidc import OidcIssuer

SECRET = "fuzz-webhook-secret"
WEBHOOK = "/api/github/webhooks"
TOKENS = "/api/tokens"
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Header values the HTTP client can carry (latin-1, no line breaks).
header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=300,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=40,
)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/xml",
            "",
            "application/json; charset=utf-16",
        ]
    )
    | header_text
)
events = st.sampled_from(
    ["pull_request", "pull_request_review", "push", "check_run", "ping", "installation"]
) | st.text(alphabet=string.ascii_letters + "_.-", min_size=1, max_size=80)


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, Installed]]:
    simulator = Simulator()
    simulator.start()
    simulator.add_repo("acme/widgets", files={"README.md": "# widgets\n"})
    installed = simulator.install(account="acme")
    try:
        yield simulator, installed
    finally:
        simulator.stop()


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def flask_app(
    tmp_path_factory: pytest.TempPathFactory,
    world: tuple[Simulator, Installed],
    issuer: OidcIssuer,
) -> Iterator[Flask]:
    simulator, installed = world
    path: Path = tmp_path_factory.mktemp("fuzz")
    env = {
        "WEBHOOK_SECRET": SECRET,
        "FOUREYES_EAGER": "",
        "FOUREYES_TRUSTED_ISSUERS": json.dumps([{"issuer": issuer.url}]),
    }
    with eager_app(simulator, installed, path, env) as flask_app:
        yield flask_app


@pytest.fixture(scope="module")
def client(flask_app: Flask) -> FlaskClient:
    return flask_app.test_client()


def assert_handled(response, allowed: set[int]) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.status_code in allowed, (response.status_code, response.get_data()[:300])
    assert response.is_json


# -- webhooks -------------------------------------------------------------------------


@FUZZ
@given(
    body=st.binary(max_size=4000),
    headers=st.dictionaries(header_text.filter(lambda s: s.strip()), header_text, max_size=6),
    signature=st.none() | header_text,
)
def test_unsigned_or_badly_signed_deliveries_are_401(client, body, headers, signature):
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length",)}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    headers.setdefault("X-GitHub-Event", "push")
    headers.setdefault("X-GitHub-Delivery", str(uuid.uuid4()))
    response = client.post(WEBHOOK, data=body, headers=headers)
    assert_handled(response, {401} if signature != sign(body) else {202, 200, 400})


@FUZZ
@given(
    body=st.binary(max_size=4000) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=content_types,
    event=events,
    delivery=header_text,
)
def test_signed_garbage_is_never_a_server_error(client, body, content_type, event, delivery):
    # The body goes in as a raw stream: given empty `data` and a multipart type, the test
    # client would make up a multipart body of its own, which the signature does not cover.
    response = client.post(
        WEBHOOK,
        input_stream=io.BytesIO(body),
        content_length=len(body),
        headers={
            "Content-Type": content_type,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body),
        },
    )
    assert_handled(response, {200, 202, 400})


@settings(FUZZ, max_examples=30)
@given(payload=st.dictionaries(st.text(max_size=20), json_values, max_size=8), event=events)
def test_signed_json_objects_are_queued(client, payload, event):
    body = json.dumps(payload).encode()
    for encoding in ("json", "form"):
        data = body
        content_type = "application/json"
        if encoding == "form":
            from urllib.parse import urlencode

            data = urlencode({"payload": body.decode()}).encode()
            content_type = "application/x-www-form-urlencoded"
        response = client.post(
            WEBHOOK,
            data=data,
            headers={
                "Content-Type": content_type,
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(data),
            },
        )
        assert_handled(response, {202})


@pytest.mark.parametrize("depth", [50, 500, 900, 950, 990, 999, 1000, 5000, 100_000])
@pytest.mark.parametrize("shape", ["object", "array in object"])
def test_deeply_nested_json_is_refused_or_queued_never_a_crash(client, depth, shape):
    if shape == "object":
        body = ('{"a":' * depth + "1" + "}" * depth).encode()
    else:
        body = ('{"a":' + "[" * depth + "]" * depth + "}").encode()
    response = client.post(
        WEBHOOK,
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(body),
        },
    )
    assert_handled(response, {202, 400})


def test_a_body_over_25_mb_is_413_without_being_read(client):
    body = b" " * (25 * 1024 * 1024 + 1)
    tracemalloc.start()
    try:
        response = client.post(
            WEBHOOK,
            input_stream=io.BytesIO(body),
            headers={
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(body),
            },
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert peak < 2 * 1024 * 1024  # the 25 MB were never copied into memory


def test_a_streamed_body_without_length_is_cut_at_25_mb(flask_app):
    """A chunked upload that never ends (as gunicorn passes it on: no length, terminated
    input) is refused once past the limit, not read into memory to the end."""
    chunk = b"x" * (1024 * 1024)

    class Endless(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            size = min(len(buffer), len(chunk))
            buffer[:size] = chunk[:size]
            self.sent += size
            return size

    stream = Endless()
    environ = EnvironBuilder(
        path=WEBHOOK,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": "sha256=" + "0" * 64,
        },
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BufferedReader(stream), "wsgi.input_terminated": True})
    status: list[str] = []
    body = b"".join(flask_app.wsgi_app(environ, lambda s, h, e=None: status.append(s)))
    assert status[0].startswith("413"), (status, body[:200])
    assert stream.sent <= 27 * 1024 * 1024


# -- tokens ---------------------------------------------------------------------------


@FUZZ
@given(
    authorization=st.none()
    | header_text
    | st.builds(lambda t: f"Bearer {t}", header_text)
    | st.builds(
        lambda parts: "Bearer " + ".".join(parts), st.lists(header_text, min_size=3, max_size=3)
    ),
    body=st.binary(max_size=3000) | json_values.map(lambda v: json.dumps(v).encode()),
    content_type=content_types,
)
def test_token_requests_without_a_valid_identity_are_401(client, authorization, body, content_type):
    headers = {"Content-Type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.post(TOKENS, data=body, headers=headers)
    assert_handled(response, {401, 413})


@FUZZ
@given(
    body=st.binary(max_size=3000)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {
            "repository": st.text(max_size=60) | json_values,
            "permissions": st.dictionaries(st.text(max_size=30), json_values, max_size=6)
            | json_values,
        },
        optional={
            "ttl": json_values | st.integers(),
            "task": json_values,
            "escalation": json_values,
        },
    ).map(lambda v: json.dumps(v).encode()),
)
def test_token_requests_with_a_valid_identity_and_random_bodies(client, issuer, body):
    # A fresh subject each time keeps the identity's rate limit out of the way.
    token = issuer.token(subject=f"agent-{uuid.uuid4().hex}")
    response = client.post(
        TOKENS,
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert_handled(response, {400, 403, 404, 413})


def test_token_body_over_the_limit_is_413(client, issuer):
    token = issuer.token(subject="agent-huge")
    body = b"{" + b" " * (5 * 1024 * 1024) + b"}"
    response = client.post(TOKENS, data=body, headers={"Authorization": f"Bearer {token}"})
    assert_handled(response, {413})


@FUZZ
@given(token_id=st.text(max_size=300).filter(lambda s: "/" not in s and s.strip()))
def test_token_revocation_by_strangers_never_a_server_error(client, issuer, token_id):
    token = issuer.token(subject=f"agent-{uuid.uuid4().hex}")
    from urllib.parse import quote

    response = client.delete(
        f"{TOKENS}/{quote(token_id, safe='')}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code in (404, 401)
