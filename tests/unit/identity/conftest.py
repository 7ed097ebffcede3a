"""Fixtures for the broker's tests: a loopback OIDC issuer and a migrated shared state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import TrustedIssuer
from app.db import make_engine
from app.identity.jwks import IssuerKeys
from app.migrate import upgrade
from app.state import SqlState
from tests.oidc import OidcIssuer

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
