"""Issuer keys: discovered once, shared through the shared state, refreshed on rotation
at a bounded rate."""

from __future__ import annotations

import time

import pytest

from app.config import TrustedIssuer
from app.errors import IdentityError, TransientError
from app.identity import jwks
from app.identity.jwks import IssuerKeys
from app.identity.verify import verify_workload_jwt
from tests.unit.identity.conftest import AUDIENCE


def fetches(issuer) -> int:
    return issuer.requests.count("/jwks")


def test_keys_are_discovered_once_and_shared_by_every_process(issuer, trusted, state):
    verify_workload_jwt(issuer.token(), trusted, AUDIENCE, IssuerKeys(state))
    # Another process: a new IssuerKeys on the same shared state.
    verify_workload_jwt(issuer.token(algorithm="ES256"), trusted, AUDIENCE, IssuerKeys(state))
    assert issuer.requests == ["/.well-known/openid-configuration", "/jwks"]


@pytest.fixture
def short_interval(monkeypatch):
    monkeypatch.setattr(jwks, "REFRESH_INTERVAL", 0.3)


def test_a_rotated_key_is_fetched_on_its_first_use(issuer, trusted, keys, short_interval):
    verify_workload_jwt(issuer.token(), trusted, AUDIENCE, keys)
    time.sleep(0.4)
    issuer.rotate("RSA")
    identity = verify_workload_jwt(issuer.token(), trusted, AUDIENCE, keys)
    assert identity.subject
    assert fetches(issuer) == 2


def test_unknown_key_ids_refresh_at_most_once_per_interval(
    issuer, trusted, keys, short_interval, monkeypatch
):
    verify_workload_jwt(issuer.token(), trusted, AUDIENCE, keys)
    time.sleep(0.4)
    # The short interval has passed; the next one is long, so all five unknown kids fall
    # inside it however slowly a loaded machine runs them.
    monkeypatch.setattr(jwks, "REFRESH_INTERVAL", 60.0)
    for n in range(5):
        with pytest.raises(IdentityError, match="no signing key"):
            verify_workload_jwt(issuer.token(kid=f"forged-{n}"), trusted, AUDIENCE, keys)
    assert fetches(issuer) == 2


def test_a_given_jwks_uri_skips_discovery(issuer, state):
    trusted = (TrustedIssuer(issuer=issuer.url, jwks_uri=issuer.jwks_uri),)
    verify_workload_jwt(issuer.token(), trusted, AUDIENCE, IssuerKeys(state))
    assert issuer.requests == ["/jwks"]


def test_discovery_naming_another_issuer_is_refused(issuer, state):
    impostor = (TrustedIssuer(issuer=issuer.url + "/"),)
    token = issuer.token(iss=issuer.url + "/")
    with pytest.raises(TransientError, match="names another issuer"):
        verify_workload_jwt(token, impostor, AUDIENCE, IssuerKeys(state))


def test_an_oversized_jwks_is_refused(issuer, trusted, state, monkeypatch):
    monkeypatch.setattr(jwks, "MAX_DOCUMENT_BYTES", 200)
    with pytest.raises(TransientError, match="larger than"):
        verify_workload_jwt(issuer.token(), trusted, AUDIENCE, IssuerKeys(state))


def test_an_unreachable_issuer_is_transient_not_a_proof(state):
    trusted = (TrustedIssuer(issuer="http://127.0.0.1:1"),)
    from tests.oidc import OidcIssuer

    with OidcIssuer() as other:
        token = other.token(iss="http://127.0.0.1:1")
    with pytest.raises(TransientError):
        verify_workload_jwt(token, trusted, AUDIENCE, IssuerKeys(state))
