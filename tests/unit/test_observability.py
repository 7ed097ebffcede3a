"""Observability: `/metrics` after real deliveries, the queue depth from each broker,
metrics from several processes, and log context carried from a delivery into its tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest
import redis
import structlog
from celery import Celery
from celery.contrib.testing.worker import start_worker
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, metrics
from app.config import Settings
from app.demo.stack import local_stack
from app.logging import add_task_context, configure_logging
from app.replay import delivery_headers
from tests.unit.web.test_pages import agent_pull


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition text by (name, labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_after_deliveries(tmp_path):
    with local_stack(tmp_path) as stack:
        before = samples(httpx.get(f"{stack.url}/metrics").text)
        pull = agent_pull(stack)  # a token, then pull_request.opened
        stack.sim.review(pull.repo, pull.number, "maria")
        body = b'{"zen": "hi"}'
        headers = delivery_headers("wrong secret", body, "ping", str(uuid.uuid4()))
        assert httpx.post(f"{stack.url}/api/github/webhooks", content=body, headers=headers)
        response = httpx.get(f"{stack.url}/metrics")
    after = samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    deliveries = "foureyes_webhook_deliveries_total"
    assert grew(deliveries, event="pull_request", outcome="queued") == 1
    assert grew(deliveries, event="pull_request_review", outcome="queued") == 1
    assert grew(deliveries, event="unknown", outcome="unauthorized") == 1
    assert grew("foureyes_evaluation_seconds_count") == 2
    reviews = "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"
    assert grew("foureyes_github_requests_total", method="GET", endpoint=reviews, status="200") == 2
    assert 0 < value(after, "foureyes_github_rate_limit_remaining") < 5000
    assert grew("foureyes_tokens_total", outcome="issued") == 1
    # Eager Celery on the embedded broker: nothing waits.
    assert value(after, "foureyes_queue_depth", queue="celery") == 0
    assert value(after, "foureyes_queue_depth", queue="audit") == 0


def test_queue_depth_counts_what_waits_in_the_embedded_broker(tmp_path, app_private_key):
    secret = "s3cret"
    settings = Settings.from_mapping(
        {
            "APP_ID": "1",
            "PRIVATE_KEY": app_private_key,
            "WEBHOOK_SECRET": secret,
            "GITHUB_API_URL": "http://127.0.0.1:1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(tmp_path),
        }
    )
    flask_app = create_app(settings)  # no worker: queued deliveries stay in the broker
    client = flask_app.test_client()
    body = b'{"action": "opened"}'
    for _ in range(3):
        headers = delivery_headers(secret, body, "pull_request", str(uuid.uuid4()))
        assert client.post("/api/github/webhooks", data=body, headers=headers).status_code == 202
    found = samples(client.get("/metrics").get_data(as_text=True))
    assert value(found, "foureyes_queue_depth", queue="celery") == 3
    assert value(found, "foureyes_queue_depth", queue="audit") == 0


def test_queue_depth_reads_redis_lists_with_their_priority_lists(redis_url):
    client = redis.Redis.from_url(redis_url)
    queue = f"test-queue-{uuid.uuid4().hex}"
    try:
        client.rpush(queue, "a", "b")
        client.rpush(f"{queue}\x06\x163", "c")
        depths = metrics.queue_depths(redis_url, (queue, f"{queue}-empty"))
    finally:
        client.delete(queue, f"{queue}\x06\x163")
    assert depths == {queue: 3, f"{queue}-empty": 0}


INCREMENT = """
import sys
from app import metrics
metrics.DELIVERIES.labels("push", "queued").inc(int(sys.argv[1]))
"""


def test_metrics_add_up_every_process_with_a_multiprocess_dir(tmp_path, monkeypatch):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", INCREMENT, count], env=env, check=True)
    assert len(list(folder.glob("counter_*.db"))) == 2
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    body, _ = metrics.render(broker_url="")
    found = samples(body.decode())
    assert value(found, "foureyes_webhook_deliveries_total", event="push", outcome="queued") == 5


def test_a_task_logs_with_the_context_of_the_delivery_that_queued_it():
    configure_logging()
    worker_app = Celery("log-context", broker="memory://", backend="cache+memory://")

    @worker_app.task(name="tests.log_context_probe")
    def probe() -> dict:
        structlog.contextvars.clear_contextvars()  # as the task base class does
        return dict(add_task_context(None, "info", {"event": "probe", "pr": 9}))

    structlog.contextvars.bind_contextvars(
        delivery="d-42", installation=7, repository="acme/widgets", secret_thing="x"
    )
    try:
        with start_worker(worker_app, perform_ping_check=False, pool="solo"):
            logged = probe.delay().get(timeout=20)
    finally:
        structlog.contextvars.clear_contextvars()
    assert logged["delivery"] == "d-42"
    assert logged["installation"] == 7 and logged["repository"] == "acme/widgets"
    assert logged["pr"] == 9  # what the task bound itself wins
    assert "secret_thing" not in logged  # only the listed fields travel


@pytest.fixture(autouse=True)
def _no_multiprocess_dir(monkeypatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
