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

# The GitHub REST routes foureyes calls, as GitHub's documentation names them. A request
# is labelled with its route, never its path: paths carry branch names, logins and file
# paths that anyone can choose, and each distinct label value is a new series forever.
GITHUB_ROUTES = (
    "/app",
    "/app-manifests/{code}/conversions",
    "/app/hook/deliveries",
    "/app/hook/deliveries/{delivery_id}",
    "/app/hook/deliveries/{delivery_id}/attempts",
    "/app/installations",
    "/app/installations/{installation_id}",
    "/app/installations/{installation_id}/access_tokens",
    "/apps/{app_slug}",
    "/installation/repositories",
    "/orgs/{org}/teams/{team_slug}/memberships/{username}",
    "/repos/{owner}/{repo}",
    "/repos/{owner}/{repo}/actions/runs/{run_id}",
    "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel",
    "/repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule",
    "/repos/{owner}/{repo}/branches/{branch}/protection",
    "/repos/{owner}/{repo}/branches/{branch}",
    "/repos/{owner}/{repo}/check-runs",
    "/repos/{owner}/{repo}/check-runs/{check_run_id}",
    "/repos/{owner}/{repo}/collaborators/{username}/permission",
    "/repos/{owner}/{repo}/commits/{commit_sha}/pulls",
    "/repos/{owner}/{repo}/commits/{ref}/check-runs",
    "/repos/{owner}/{repo}/commits/{ref}",
    "/repos/{owner}/{repo}/compare/{basehead}",
    "/repos/{owner}/{repo}/contents/{path}",
    "/repos/{owner}/{repo}/environments",
    "/repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules",
    "/repos/{owner}/{repo}/installation",
    "/repos/{owner}/{repo}/issues",
    "/repos/{owner}/{repo}/issues/{issue_number}",
    "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    "/repos/{owner}/{repo}/pulls",
    "/repos/{owner}/{repo}/pulls/{pull_number}",
    "/repos/{owner}/{repo}/pulls/{pull_number}/commits",
    "/repos/{owner}/{repo}/pulls/{pull_number}/files",
    "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
    "/repos/{owner}/{repo}/rules/branches/{branch}",
    "/repos/{owner}/{repo}/rulesets",
    "/repos/{owner}/{repo}/rulesets/{ruleset_id}",
    "/user",
    "/user/installations",
    "/users/{username}",
)
# Names that may hold a slash (branches, refs, paths, environments, `base...head`).
_MULTI_SEGMENT = frozenset({"branch", "ref", "basehead", "path", "environment_name"})
OTHER_ENDPOINT = "other"


def _route_pattern(route: str) -> re.Pattern[str]:
    def placeholder(match: re.Match[str]) -> str:
        return ".+" if match.group(1) in _MULTI_SEGMENT else "[^/]+"

    body = re.sub(r"\\\{(\w+)\\\}", placeholder, re.escape(route))
    # GitHub Enterprise Server serves the API under /api/v3.
    return re.compile(rf"(?:/api/v3)?{body}/?")


# Tried in order: a route with more fixed words first, so `/branches/{branch}/protection`
# wins over `/branches/{branch}` (whose branch could itself end in `/protection`).
_ROUTES = tuple(
    (route, _route_pattern(route))
    for route in sorted(GITHUB_ROUTES, key=lambda r: -len(re.sub(r"\{\w+\}", "", r)))
)


def endpoint_template(path: str) -> str:
    """The GitHub route `path` is an instance of, or "other": a bounded set of values."""
    for route, pattern in _ROUTES:
        if pattern.fullmatch(path):
            return route
    return OTHER_ENDPOINT


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
