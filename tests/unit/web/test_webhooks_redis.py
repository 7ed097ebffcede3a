"""Webhook intake on Redis: the delivery id is recorded and its task pushed in one atomic
call, the task message is the one kombu itself writes, and a Celery worker runs it."""

from __future__ import annotations

import base64
import json
import threading
import uuid
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask
from kombu.utils.json import loads  # the worker's decoder

from app.web.webhooks import MAX_DEPTH
from tests.unit.web.test_webhooks import intake_app
from tests.unit.web.test_webhooks import post as send
from workers.webhooks import delivery_message, process_delivery

pytestmark = pytest.mark.redis

BODY = json.dumps({"action": "opened", "zen": "Design for failure."}).encode()


@pytest.fixture
def broker_url(redis_url: str) -> Iterator[str]:
    """A database of its own: the broker's queue keys carry no prefix."""
    url = redis_url.rsplit("/", 1)[0] + "/12"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()


@pytest.fixture
def flask_app(tmp_path, app_private_key, broker_url) -> Flask:
    return intake_app(tmp_path, app_private_key, REDIS_URL=broker_url)


def post(
    flask_app: Flask, delivery: str, body: bytes = BODY, content_type: str = "application/json"
) -> int:
    response = send(
        flask_app.test_client(),
        body,
        event="pull_request",
        delivery=delivery,
        content_type=content_type,
    )
    return response.status_code


def queued(broker_url: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in redis.Redis.from_url(broker_url).lrange("celery", 0, -1)]


def body_of(message: dict[str, Any]) -> Any:
    """The task body (`[args, kwargs, embed]`) as the worker decodes it."""
    assert message["headers"]["compression"] == "application/x-gzip"
    return loads(zlib.decompress(base64.b64decode(message["body"])))


def without_ids(message: dict[str, Any]) -> dict[str, Any]:
    """A message less what differs between any two sends (ids, tags)."""
    headers = {k: v for k, v in message["headers"].items() if k not in ("id", "root_id")}
    properties = {
        k: v
        for k, v in message["properties"].items()
        if k not in ("correlation_id", "delivery_tag", "argsrepr")
    }
    return {**message, "headers": headers, "properties": properties, "body": body_of(message)}


def test_the_pushed_message_is_the_one_kombu_writes(flask_app, broker_url):
    """Compressed as `apply_async` compresses it (the same header; zlib's level differs)."""
    args = ("pull_request", "d-1", {"action": "opened", "number": 7})
    with flask_app.app_context():
        process_delivery.apply_async(args=args, argsrepr="('pull_request', 'd-1', <payload>)")
        queue, ours = delivery_message(*args[:2], json.dumps(args[2]))
    (theirs,) = queued(broker_url)
    assert queue == "celery"
    ours_decoded = json.loads(ours)
    assert without_ids(ours_decoded) == without_ids(theirs)
    assert ours_decoded["headers"]["id"] == ours_decoded["properties"]["correlation_id"]


def test_each_message_has_its_own_ids_and_an_exact_argsrepr(flask_app):
    """The envelope is built once per process; what differs per delivery is filled in."""
    event, delivery = "pull_request", 'd-"quoted" \\ \u00e9'
    with flask_app.app_context():
        first, second = (json.loads(delivery_message(event, delivery, "{}")[1]) for _ in "12")
    assert first["headers"]["argsrepr"] == f"({event!r}, {delivery!r}, <payload>)"
    assert body_of(first)[0] == [event, delivery, {}]
    for place, key in (("headers", "id"), ("properties", "delivery_tag")):
        assert first[place][key] != second[place][key]
        assert uuid.UUID(first[place][key])


def test_a_bad_signature_queues_and_records_nothing(flask_app, broker_url):
    """Invariant 1 on the Redis path: 401, no task pushed, the delivery id not remembered
    (so GitHub's genuine delivery with that id is still accepted)."""
    delivery = str(uuid.uuid4())
    forged = send(
        flask_app.test_client(),
        BODY,
        event="pull_request",
        delivery=delivery,
        signature="sha256=" + "0" * 64,
    )
    assert forged.status_code == 401
    assert queued(broker_url) == []
    assert redis.Redis.from_url(broker_url).keys("*") == []
    assert post(flask_app, delivery) == 202


def test_a_delivery_is_recorded_and_queued_once(flask_app, broker_url):
    delivery = str(uuid.uuid4())
    assert post(flask_app, delivery) == 202
    assert post(flask_app, delivery) == 200
    (message,) = queued(broker_url)
    event, got, payload = body_of(message)[0]
    assert (event, got, payload) == ("pull_request", delivery, json.loads(BODY))
    state = redis.Redis.from_url(broker_url, decode_responses=True)
    assert state.get(f"foureyes:delivery:{delivery}") == "queued"
    assert 3 * 24 * 3600 - 60 < state.ttl(f"foureyes:delivery:{delivery}") <= 3 * 24 * 3600


@pytest.mark.parametrize(
    "document",
    [
        '{"action": "opened", "title": "caf\u00e9 \u2028 \\"quoted\\""}',
        '  {"nested": {"a": [1, 2.5, null, true]}, "emoji": "\\ud83d\\ude00"}\n',
        '{"a": ' * (MAX_DEPTH - 1) + "[1]" + "}" * (MAX_DEPTH - 1),
    ],
    ids=["escapes", "nesting", "deepest-accepted"],
)
@pytest.mark.parametrize("form", [False, True])
def test_the_queued_payload_is_the_one_received(flask_app, broker_url, document, form):
    """The payload's JSON text goes into the message as received (JSON or GitHub's form
    encoding); the worker decodes exactly the object the intake parsed."""
    body = urlencode({"payload": document}).encode() if form else document.encode()
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    assert post(flask_app, str(uuid.uuid4()), body, content_type) == 202
    (message,) = queued(broker_url)
    args, kwargs, _ = body_of(message)
    assert args[2] == json.loads(document) and kwargs == {}


def test_concurrent_copies_of_one_delivery_queue_one_task(flask_app, broker_url):
    delivery = str(uuid.uuid4())
    statuses: list[int] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        statuses.append(post(flask_app, delivery))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [202]
    assert len(queued(broker_url)) == 1


def test_a_worker_runs_the_pushed_task(flask_app, broker_url):
    """The pushed message goes through Celery's own consumer: a worker thread runs it."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_success

    delivery = str(uuid.uuid4())
    assert post(flask_app, delivery, json.dumps({"zen": "Speak like a human."}).encode()) == 202
    ran = threading.Event()
    results: list[Any] = []

    def on_success(sender: Any = None, result: Any = None, **_: Any) -> None:
        results.append((sender.request.args[1], result))
        ran.set()

    task_success.connect(on_success, weak=False)
    try:
        with start_worker(flask_app.extensions["celery"], pool="solo", perform_ping_check=False):
            assert ran.wait(20)
    finally:
        task_success.disconnect(on_success)
    assert results == [(delivery, 0)]  # audited; no handler takes a bare event
    assert queued(broker_url) == []
