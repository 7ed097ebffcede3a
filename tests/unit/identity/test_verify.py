"""Workload JWT verification: what proves an identity, and every way a token fails to."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from app.config import TrustedIssuer
from app.errors import IdentityError
from app.identity.verify import consume_once, verify_workload_jwt
from tests.oidc import github_actions_claims
from tests.unit.identity.conftest import AUDIENCE


def verify(token, trusted, keys):
    return verify_workload_jwt(token, trusted, AUDIENCE, keys)


@pytest.mark.parametrize("algorithm", ["RS256", "RS512", "PS256", "ES256", "EdDSA"])
def test_asymmetric_tokens_from_a_trusted_issuer_prove_their_subject(
    issuer, trusted, keys, algorithm
):
    identity = verify(
        issuer.token(subject="spiffe://acme.org/agent", algorithm=algorithm), trusted, keys
    )
    assert identity.issuer == issuer.url
    assert identity.subject == "spiffe://acme.org/agent"
    assert identity.agent == f"{issuer.url} spiffe://acme.org/agent"


@pytest.mark.parametrize("immutable", [False, True])
def test_github_actions_tokens_in_both_subject_formats(issuer, trusted, keys, immutable):
    claims = github_actions_claims("acme/agents", actor="alice", immutable=immutable)
    identity = verify(issuer.token(claims), trusted, keys)
    expected = (
        "repo:acme@1001/agents@2002:ref:refs/heads/main"
        if immutable
        else "repo:acme/agents:ref:refs/heads/main"
    )
    assert identity.subject == expected
    assert identity.on_behalf_of == "alice"
    assert identity.claims["job_workflow_ref"].startswith("acme/agents/.github/workflows/")


def test_on_behalf_of_claim_names_the_human_before_actor(issuer, trusted, keys):
    token = issuer.token(github_actions_claims(actor="ci-bot"), on_behalf_of="carol")
    assert verify(token, trusted, keys).on_behalf_of == "carol"


def _claims(issuer, **extra):
    return issuer.claims({"sub": "agent", "aud": AUDIENCE, **extra})


ATTACKS = {
    "not a jwt": lambda issuer: "not-a-jwt",
    "alg none": lambda issuer: issuer.forged_alg_none(),
    "HS256 with the public key as secret": lambda issuer: issuer.forged_hs256(),
    "expired": lambda issuer: issuer.token(exp=int(time.time()) - 120, iat=int(time.time()) - 400),
    "nbf in the future": lambda issuer: issuer.token(nbf=int(time.time()) + 600),
    "iat in the future": lambda issuer: issuer.token(iat=int(time.time()) + 600),
    "wrong audience": lambda issuer: issuer.token(audience="https://elsewhere.example"),
    "no audience": lambda issuer: issuer.token(audience=None),
    "no exp": lambda issuer: issuer.token(exp=None),
    "no iat": lambda issuer: issuer.token(iat=None),
    "no sub": lambda issuer: issuer.token(sub=None),
    "empty sub": lambda issuer: issuer.token(sub=""),
    "unknown kid": lambda issuer: issuer.token(kid="never-published"),
    "tampered payload": lambda issuer: _tamper(issuer.token(subject="agent")),
    "signed by another key": lambda issuer: _sign_with_stranger(issuer),
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin-agent"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _sign_with_stranger(issuer) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(issuer), stranger, algorithm="RS256", headers={"kid": "rsa-1"})


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_prove_nothing(issuer, trusted, keys, attack):
    with pytest.raises(IdentityError):
        verify(ATTACKS[attack](issuer), trusted, keys)


def test_hs256_signed_with_the_public_key_is_refused_before_any_key_is_used(issuer, trusted, keys):
    token = issuer.forged_hs256()
    with pytest.raises(IdentityError, match="not accepted"):
        verify(token, trusted, keys)
    assert issuer.requests == []


def test_untrusted_issuer_is_refused_without_fetching_its_keys(issuer, keys):
    other = (TrustedIssuer(issuer="https://token.actions.githubusercontent.com"),)
    with pytest.raises(IdentityError, match="not trusted"):
        verify(issuer.token(), other, keys)
    assert issuer.requests == []


def test_leeway_is_at_most_a_minute(issuer, trusted, keys):
    now = int(time.time())
    assert verify(issuer.token(exp=now - 30, iat=now - 300), trusted, keys)
    with pytest.raises(IdentityError):
        verify(issuer.token(exp=now - 90, iat=now - 300), trusted, keys)


def test_configured_audience_replaces_the_default(issuer, keys):
    trusted = (TrustedIssuer(issuer=issuer.url, audience="foureyes-prod"),)
    assert verify(issuer.token(audience="foureyes-prod"), trusted, keys)
    with pytest.raises(IdentityError):
        verify(issuer.token(audience=AUDIENCE), trusted, keys)


def test_a_token_is_accepted_once_while_it_lives(issuer, trusted, keys, state):
    token = issuer.token()
    consume_once(state, verify(token, trusted, keys))
    with pytest.raises(IdentityError, match="already used"):
        consume_once(state, verify(token, trusted, keys))
    consume_once(state, verify(issuer.token(), trusted, keys))


def test_a_token_without_jti_is_remembered_by_its_hash(issuer, trusted, keys, state):
    token = issuer.token(jti=None)
    consume_once(state, verify(token, trusted, keys))
    with pytest.raises(IdentityError, match="already used"):
        consume_once(state, verify(token, trusted, keys))
