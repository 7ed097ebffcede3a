"""The token broker: requests per second and latency excluding GitHub's (the time spent
waiting on the simulated GitHub is subtracted), with the issuer's JWKS cached; against
`GET /healthz` through the same client as the baseline."""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from typing import Any

import httpx

from app.demo.stack import eager_app
from app.simulator import Simulator
from bench.report import Row, ms, percentile, ratio
from bench.servers import workdir
from tests.oidc import OidcIssuer, github_actions_claims

POLICY = """\
version: 1
tokens:
  - name: ci agents
    issuer: {issuer}
    subject: "repo:acme/agents:ref:refs/heads/**"
    permissions: {{contents: write, pull_requests: write}}
    max_ttl: 900
"""


class GitHubClock:
    """Seconds this thread spent waiting on requests to `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.local = threading.local()
        self.original = httpx.Client.send

    def __enter__(self) -> GitHubClock:
        clock = self

        def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            if not str(request.url).startswith(clock.base_url):
                return clock.original(client, request, **kwargs)
            started = time.perf_counter()
            try:
                return clock.original(client, request, **kwargs)
            finally:
                clock.local.spent = clock.spent + time.perf_counter() - started

        httpx.Client.send = send  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        httpx.Client.send = self.original  # type: ignore[method-assign]

    @property
    def spent(self) -> float:
        return getattr(self.local, "spent", 0.0)


def run(count: int) -> list[Row]:
    here = workdir()
    with ExitStack() as stack:
        issuer = stack.enter_context(OidcIssuer())
        simulator = stack.enter_context(Simulator())
        simulator.add_repo(
            "acme/agents", files={".github/foureyes.yml": POLICY.format(issuer=issuer.url)}
        )
        installed = simulator.install(account="acme")
        trusted = json.dumps([{"issuer": issuer.url}])
        flask_app = stack.enter_context(
            eager_app(simulator, installed, here, {"FOUREYES_TRUSTED_ISSUERS": trusted})
        )
        client = flask_app.test_client()
        # Each request from its own workflow ref: one identity's rate limit is not the figure.
        tokens = [
            issuer.token(github_actions_claims("acme/agents", ref=f"refs/heads/bench-{n}"))
            for n in range(count + 1)
        ]
        body = {
            "repository": "acme/agents",
            "permissions": {"contents": "write"},
            "ttl": 600,
            "task": "bench",
        }

        def ask(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return client.post("/api/tokens", json=body, headers=headers).status_code

        if ask(tokens[0]) != 201:  # warm-up: discovery, JWKS, installation token
            raise RuntimeError("the broker refused the warm-up request")
        total, excluding, statuses = [], [], []
        with GitHubClock(simulator.url) as clock:
            started = time.perf_counter()
            for token in tokens[1:]:
                before, t0 = clock.spent, time.perf_counter()
                statuses.append(ask(token))
                elapsed = time.perf_counter() - t0
                total.append(elapsed)
                excluding.append(elapsed - (clock.spent - before))
            seconds = time.perf_counter() - started
        # The code before the profile: the app's PEM key parsed for every app JWT.
        github_app = flask_app.extensions["foureyes"].github
        before = []
        extra = [
            issuer.token(github_actions_claims("acme/agents", ref=f"refs/heads/before-{n}"))
            for n in range(count // 2)
        ]
        with GitHubClock(simulator.url) as clock:
            for token in extra:
                github_app.__dict__.pop("_signing_key", None)
                spent, t0 = clock.spent, time.perf_counter()
                ask(token)
                before.append(time.perf_counter() - t0 - (clock.spent - spent))
        health = []
        for _ in range(count):
            t0 = time.perf_counter()
            client.get("/healthz")
            health.append(time.perf_counter() - t0)
    p99, base = percentile(excluding, 0.99), percentile(health, 0.99)
    p50 = percentile(excluding, 0.5)
    return [
        Row(
            "broker",
            "tokens/s, one client, GitHub included",
            f"{count / seconds:.0f}/s",
            f"{count / sum(health):.0f}/s healthz",
            ratio(count / seconds, count / sum(health)),
        ),
        Row(
            "broker",
            "latency p50 excluding GitHub",
            ms(p50),
            ms(percentile(health, 0.5)),
            ratio(p50, percentile(health, 0.5)),
        ),
        Row("broker", "latency p99 excluding GitHub", ms(p99), ms(base), ratio(p99, base)),
        Row("broker", "tokens issued (201)", f"{statuses.count(201)}/{count}"),
        Row(
            "profile fix",
            "token request p50 excluding GitHub",
            ms(p50),
            f"{ms(percentile(before, 0.5))} before",
            ratio(p50, percentile(before, 0.5)),
            "< 1",
        ),
    ]
