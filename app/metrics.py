"""Prometheus metrics.

Counters and histograms live in each process. With PROMETHEUS_MULTIPROC_DIR set (an
empty folder, wiped before the processes start, shared by every gunicorn and Celery
process of the machine), each process writes its values there and `/metrics` adds them
all up; `gunicorn.conf.py` marks dead workers so their live gauges drop out. The queue
depth is read from the broker at each scrape.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger()

DELIVERIES = Counter(
    "foureyes_webhook_deliveries_total",
    "Webhook deliveries by event and outcome",
    ["event", "outcome"],
)
EVALUATIONS = Histogram(
    "foureyes_evaluation_seconds",
    "Time to gather facts, evaluate and publish a gate decision",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
GITHUB_REQUESTS = Counter(
    "foureyes_github_requests_total",
    "GitHub API requests by endpoint and status",
    ["method", "endpoint", "status"],
)
RATE_LIMIT_REMAINING = Gauge(
    "foureyes_github_rate_limit_remaining",
    "x-ratelimit-remaining of the last response",
    multiprocess_mode="livemostrecent",
)
TOKENS = Counter("foureyes_tokens_total", "Agent token requests by outcome", ["outcome"])

_NUMBER = re.compile(r"/\d+(?=/|$)")
_SHA = re.compile(r"/[0-9a-f]{40}(?=/|$)")


def endpoint_template(path: str) -> str:
    """Collapse ids and SHAs so the endpoint label stays low-cardinality."""
    return _NUMBER.sub("/{n}", _SHA.sub("/{sha}", path))


def record_github_response(response: httpx.Response) -> None:
    request = response.request
    GITHUB_REQUESTS.labels(
        request.method, endpoint_template(request.url.path), str(response.status_code)
    ).inc()
    remaining = response.headers.get("x-ratelimit-remaining")
    if remaining and remaining.isdigit():
        RATE_LIMIT_REMAINING.set(int(remaining))


# The Celery queues (`workers.CELERY_DEFAULTS`); kombu's Redis transport keeps a queue's
# prioritised messages in extra lists named QUEUE + "\x06\x16" + step.
QUEUES = ("celery", "audit")
REDIS_PRIORITY_STEPS = (3, 6, 9)
_broker_clients: dict[str, Any] = {}


def _redis_depths(url: str, queues: tuple[str, ...]) -> dict[str, int]:
    import redis

    client = _broker_clients.get(url)
    if client is None:
        client = _broker_clients[url] = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2
        )
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
        for step in REDIS_PRIORITY_STEPS:
            pipe.llen(f"{queue}\x06\x16{step}")
    counts = pipe.execute()
    per_queue = len(REDIS_PRIORITY_STEPS) + 1
    return {
        queue: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, queue in enumerate(queues)
    }


def _sql_depths(url: str, queues: tuple[str, ...]) -> dict[str, int]:
    """kombu's SQLAlchemy transport: messages still visible (not yet taken) per queue."""
    from sqlalchemy import create_engine, inspect, make_url, text

    depths = dict.fromkeys(queues, 0)
    target = make_url(url.removeprefix("sqla+"))
    if target.get_backend_name() == "sqlite" and not os.path.exists(target.database or ""):
        return depths  # nothing queued yet; do not create the file by looking
    engine = _broker_clients.get(url)
    if engine is None:
        engine = _broker_clients[url] = create_engine(target)
    if not inspect(engine).has_table("kombu_message"):
        return depths
    query = text(
        "SELECT q.name, COUNT(m.id) FROM kombu_queue q JOIN kombu_message m "
        "ON m.queue_id = q.id WHERE m.visible GROUP BY q.name"
    )
    with engine.connect() as conn:
        for name, count in conn.execute(query):
            if name in depths:
                depths[name] = int(count)
    return depths


def queue_depths(broker_url: str, queues: tuple[str, ...] = QUEUES) -> dict[str, int]:
    """Messages waiting in each Celery queue (Redis `LLEN`, or rows of the embedded broker)."""
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_depths(broker_url, queues)
    if broker_url.startswith("sqla+"):
        return _sql_depths(broker_url, queues)
    return {}


class QueueDepthCollector(Collector):
    """`foureyes_queue_depth{queue}`, asked of the broker when scraped."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depths = queue_depths(self.broker_url)
        except Exception as exc:
            # No gauge rather than a wrong one; /readyz says what is down.
            log.warning("metrics.queue_depth_unavailable", error=type(exc).__name__)
            return
        family = GaugeMetricFamily(
            "foureyes_queue_depth", "Messages waiting in each Celery queue", labels=["queue"]
        )
        for queue, depth in sorted(depths.items()):
            family.add_metric([queue], depth)
        yield family


def mark_process_dead(pid: int) -> None:
    """For gunicorn's `child_exit`: drop a dead worker's live gauges (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)


def render(broker_url: str | None = None) -> tuple[bytes, str]:
    """The exposition text: this process' metrics, or every process' with
    PROMETHEUS_MULTIPROC_DIR, and the queue depth of `broker_url` (default: the current
    Flask app's broker)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest()
    if broker_url is None:
        broker_url = _current_broker_url()
    if broker_url:
        queues = CollectorRegistry(auto_describe=False)
        queues.register(QueueDepthCollector(broker_url))
        body += generate_latest(queues)
    return body, CONTENT_TYPE_LATEST


def _current_broker_url() -> str | None:
    from flask import current_app, has_app_context

    if not has_app_context() or "foureyes" not in current_app.extensions:
        return None
    return current_app.extensions["foureyes"].settings.broker_url
