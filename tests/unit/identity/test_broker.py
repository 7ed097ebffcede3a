"""POST /api/tokens and DELETE /api/tokens/<id> against the simulated GitHub."""

from __future__ import annotations

import hashlib
import time

import pytest

from app.identity import broker as broker_module
from app.identity.models import AgentToken
from tests.oidc import github_actions_claims

GOOD = {
    "repository": "acme/agents",
    "permissions": {"contents": "write", "pull_requests": "write"},
    "ttl": 600,
    "task": "fix issue #12",
}


def test_happy_path_mints_exactly_the_asked_scope(broker):
    response = broker.ask(GOOD)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["repository"] == "acme/agents"
    assert body["permissions"] == GOOD["permissions"]
    assert body["branch_prefix"] == f"agents/ci-agents/{body['token_id']}/"
    [token] = broker.agent_tokens()
    assert token.token == body["token"]
    assert token.repositories == {"acme/agents"}
    assert token.permissions == GOOD["permissions"]
    assert not token.revoked


def test_the_token_is_audited_and_stored_only_as_its_sha256(broker, tmp_path):
    body = broker.ask(GOOD).json
    digest = hashlib.sha256(body["token"].encode()).hexdigest()
    [issued] = broker.events("token.issued")
    assert issued.subject == f"token:{body['token_id']}"
    assert issued.data["token_sha256"] == digest
    assert issued.data["permissions"] == GOOD["permissions"]
    assert issued.data["rule"] == "ci agents"
    assert issued.data["on_behalf_of"] == "alice"
    assert issued.agent.endswith(" repo:acme/agents:ref:refs/heads/main")
    [row] = broker.rows(AgentToken)
    assert row.token_sha256 == digest
    # Nowhere on disk in the clear: database files, the instance directory.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert body["token"].encode() not in path.read_bytes(), path


def test_ttl_is_capped_by_the_rule(broker):
    body = broker.ask({**GOOD, "ttl": 3600}).json
    [row] = broker.rows(AgentToken)
    assert 890 <= (row.revoke_at - row.created_at).total_seconds() <= 900
    assert body["expires_at"] == row.revoke_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _forged(broker):
    issued = broker.issuer.token(github_actions_claims("acme/agents"))
    header, payload, signature = issued.split(".")
    return f"{header}.{payload[:-4]}AAAA.{signature}"


# name -> (build the request from the broker, status, error)
ATTACKS = {
    "no token": (lambda b: b.ask(GOOD, jwt=""), 401, "unauthenticated"),
    "alg none": (
        lambda b: b.ask(GOOD, jwt=b.issuer.forged_alg_none(github_actions_claims())),
        401,
        "unauthenticated",
    ),
    "HS256 signed with the public key": (
        lambda b: b.ask(GOOD, jwt=b.issuer.forged_hs256(github_actions_claims())),
        401,
        "unauthenticated",
    ),
    "untrusted issuer": (
        lambda b: b.ask(GOOD, iss="https://token.actions.githubusercontent.com"),
        401,
        "unauthenticated",
    ),
    "expired": (
        lambda b: b.ask(GOOD, exp=int(time.time()) - 120, iat=int(time.time()) - 600),
        401,
        "unauthenticated",
    ),
    "nbf in the future": (
        lambda b: b.ask(GOOD, nbf=int(time.time()) + 600),
        401,
        "unauthenticated",
    ),
    "wrong audience": (lambda b: b.ask(GOOD, aud="https://elsewhere.example"), 401, None),
    "unknown kid": (lambda b: b.ask(GOOD, jwt=b.issuer.token(kid="stranger")), 401, None),
    "tampered payload": (lambda b: b.ask(GOOD, jwt=_forged(b)), 401, None),
    "another repository": (
        lambda b: b.ask({**GOOD, "repository": "acme/other"}),
        403,
        "denied",
    ),
    "not installed there": (
        lambda b: b.ask({**GOOD, "repository": "elsewhere/app"}),
        404,
        "not_installed",
    ),
    "a floor permission": (
        lambda b: b.ask({**GOOD, "permissions": {"administration": "write"}}),
        403,
        "denied",
    ),
    "checks write": (
        lambda b: b.ask({**GOOD, "permissions": {"checks": "write"}}),
        403,
        "denied",
    ),
    "an over-long ttl": (lambda b: b.ask({**GOOD, "ttl": 7200}), 400, "malformed"),
    "unknown keys": (lambda b: b.ask({**GOOD, "admin": True}), 400, "malformed"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attacks_are_refused_and_nothing_is_minted(broker, attack):
    make, status, error = ATTACKS[attack]
    response = make(broker)
    assert response.status_code == status, response.json
    if error:
        assert response.json["error"] == error
    assert response.json["reason"]
    assert broker.agent_tokens() == []


def test_untrusted_issuer_and_hs256_are_refused_without_github(broker):
    from tests.oidc import OidcIssuer

    with OidcIssuer() as stranger:
        response = broker.ask(GOOD, jwt=stranger.token(github_actions_claims("acme/agents")))
    assert response.status_code == 401
    assert broker.minting_requests() == 0
    assert broker.sim.requests == []


def test_a_replayed_token_is_refused(broker):
    jwt = broker.issuer.token(github_actions_claims("acme/agents"))
    assert broker.ask(GOOD, jwt=jwt).status_code == 201
    replay = broker.ask(GOOD, jwt=jwt)
    assert replay.status_code == 401
    assert "already used" in replay.json["reason"]
    assert len(broker.agent_tokens()) == 1


def test_floor_denial_names_the_permission_and_calls_no_github(broker):
    response = broker.ask({**GOOD, "permissions": {"contents": "write", "secrets": "read"}})
    assert response.status_code == 403
    assert "secrets" in response.json["reason"]
    assert broker.minting_requests() == 0
    [denied] = broker.events("token.denied")
    assert "secrets" in denied.reason


def test_a_request_body_over_16_kib_is_refused(broker):
    response = broker.ask({**GOOD, "task": "x" * 17000})
    assert response.status_code == 413


def test_the_rate_limit_per_identity(broker, monkeypatch):
    monkeypatch.setattr(broker_module, "RATE_LIMIT", 3)
    statuses = [broker.ask({**GOOD, "ttl": 5}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    limited = broker.ask(GOOD)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    other = broker.ask(
        GOOD, jwt=broker.issuer.token(github_actions_claims("acme/agents", ref="refs/heads/dev"))
    )
    assert other.status_code == 201


def test_broker_off_without_trusted_issuers(broker):
    from dataclasses import replace

    deps = broker.app.extensions["foureyes"]
    deps.settings = replace(deps.settings, trusted_issuers=())
    response = broker.ask(GOOD)
    assert response.status_code == 503
    assert response.json["error"] == "broker_off"
    assert "FOUREYES_TRUSTED_ISSUERS" in response.json["reason"]


def test_permissions_the_installation_lacks_are_denied(broker):
    with broker.sim.world.lock:
        for installation in broker.sim.world.installations.values():
            installation.permissions["contents"] = "read"
    response = broker.ask(GOOD)
    assert response.status_code == 403
    assert "installation does not have" in response.json["reason"]
    assert broker.agent_tokens() == []


def test_a_refusal_from_github_is_a_clear_502_not_a_500(broker):
    """GitHub refuses the mint for a reason foureyes does not translate (a 403 that is not
    a rate limit): the agent gets no token and GitHub's words, never a bare 500."""
    broker.sim.fail(
        "POST",
        r"/access_tokens$",
        403,
        times=5,
        headers={"retry-after": None},
        body={"message": "This installation has been blocked by an administrator"},
    )
    response = broker.ask(GOOD)
    assert response.status_code == 502
    assert response.json["error"] == "github_refused"
    assert "blocked by an administrator" in response.json["reason"]
    assert broker.agent_tokens() == []
