"""Fixtures for the broker's tests: a loopback OIDC issuer and a migrated shared state."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from app.audit.models import AuditEvent
from app.config import TrustedIssuer
from app.db import make_engine
from app.demo.stack import eager_app
from app.identity.jwks import IssuerKeys
from app.migrate import upgrade
from app.simulator import Simulator
from app.simulator.model import Token
from app.state import SqlState
from tests.oidc import OidcIssuer, github_actions_claims

AUDIENCE = "http://localhost:3000"


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


@pytest.fixture
def state(tmp_path) -> SqlState:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    upgrade(engine, tmp_path)
    return SqlState(engine)


@pytest.fixture
def trusted(issuer: OidcIssuer) -> tuple[TrustedIssuer, ...]:
    return (TrustedIssuer(issuer=issuer.url),)


@pytest.fixture
def keys(state: SqlState) -> IssuerKeys:
    return IssuerKeys(state)


POLICY = """\
version: 1
tokens:
  - name: ci agents
    issuer: {issuer}
    subject: "repo:acme/agents:ref:refs/heads/**"
    permissions: {{contents: write, pull_requests: write, issues: read}}
    max_ttl: 900
escalations:
  approvers: {{permission: admin}}
  ttl: 600
"""


@dataclass
class Broker:
    """A running broker: the simulated GitHub, a trusted issuer, and the Flask app."""

    sim: Simulator
    issuer: OidcIssuer
    app: Flask
    client: FlaskClient

    def jwt(self, ref: str = "refs/heads/main", **overrides: Any) -> str:
        """A GitHub Actions token of the agents repository's workflow; `overrides` claims."""
        return self.issuer.token(github_actions_claims("acme/agents", ref=ref), **overrides)

    def ask(self, body: dict[str, Any], jwt: str | None = None, **overrides: Any) -> TestResponse:
        """POST /api/tokens; `jwt=""` sends no Authorization header."""
        headers = {}
        if jwt is None:
            jwt = self.jwt(**overrides)
        if jwt:
            headers["Authorization"] = f"Bearer {jwt}"
        return self.client.post("/api/tokens", json=body, headers=headers)

    def agent_tokens(self) -> list[Token]:
        """Tokens minted for agents (restricted to repositories), as GitHub holds them."""
        with self.sim.world.lock:
            return [t for t in self.sim.world.tokens.values() if t.repositories is not None]

    def minting_requests(self) -> int:
        return sum(1 for r in self.sim.requests if r.path.endswith("/access_tokens"))

    def events(self, type: str | None = None) -> list[AuditEvent]:
        with self.app.extensions["foureyes"].sessions() as session:
            query = select(AuditEvent).order_by(AuditEvent.seq)
            if type:
                query = query.where(AuditEvent.type == type)
            return list(session.scalars(query))

    def rows(self, model: type) -> list[Any]:
        with self.app.extensions["foureyes"].sessions() as session:
            return list(session.scalars(select(model)))


@pytest.fixture(params=["sql"])
def broker(request, tmp_path, issuer, simulator) -> Iterator[Broker]:
    """The broker on the SQL shared state; `@pytest.mark.parametrize("broker", ["sql",
    "redis"], indirect=True)` runs a test on Redis too."""
    policy = POLICY.format(issuer=issuer.url)
    simulator.add_repo("acme/agents", files={".github/foureyes.yml": policy})
    simulator.add_repo("acme/other", files={".github/foureyes.yml": "version: 1\n"})
    simulator.add_repo("elsewhere/app", files={".github/foureyes.yml": policy})
    installed = simulator.install(account="acme")
    extra = {"FOUREYES_TRUSTED_ISSUERS": json.dumps([{"issuer": issuer.url}])}
    if request.param == "redis":
        extra["REDIS_URL"] = request.getfixturevalue("redis_url")
    with eager_app(simulator, installed, tmp_path, extra) as flask_app:
        deps = flask_app.extensions["foureyes"]
        if request.param == "redis":
            deps.state.prefix = f"test:{uuid.uuid4().hex}:"
        try:
            yield Broker(simulator, issuer, flask_app, flask_app.test_client())
        finally:
            if request.param == "redis":
                for key in deps.state.client.scan_iter(f"{deps.state.prefix}*"):
                    deps.state.client.delete(key)


@pytest.fixture
def served(broker) -> Iterator[str]:
    """The broker's Flask app on a loopback port, as agents reach it."""
    server = make_server("127.0.0.1", 0, broker.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def audience_env(broker, url: str) -> None:
    """The broker's audience is its own URL: here, the loopback one."""
    from dataclasses import replace

    deps = broker.app.extensions["foureyes"]
    deps.settings = replace(deps.settings, foureyes_url=url)
