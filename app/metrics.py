"""Prometheus metrics. With PROMETHEUS_MULTIPROC_DIR set, every process reports together."""

from __future__ import annotations

import os
import re

import httpx
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

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


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
