"""Lesser finding (a): a workload JWT buys one token, but the replay key was the token's
text. One signature has many encodings that verify: base64url padding appended to the
signature segment decodes to the same bytes. Replay protection is keyed on the verified
claims instead (`app.identity.verify.replay_key`)."""

from __future__ import annotations

import pytest

GOOD = {"repository": "acme/agents", "permissions": {"contents": "write"}}


def padded(jwt: str) -> str:
    """The same JWT, its signature segment padded: it still decodes and verifies."""
    header, payload, signature = jwt.split(".")
    return f"{header}.{payload}.{signature}{'=' * (-len(signature) % 4 or 4)}"


@pytest.mark.parametrize("jti", [None, "a-unique-id"])
def test_a_re_encoded_jwt_is_refused_the_second_time(broker, jti):
    jwt = broker.jwt(jti=jti)
    first = broker.ask(GOOD, jwt=jwt)
    assert first.status_code == 201, first.json
    again = broker.ask(GOOD, jwt=padded(jwt))
    assert again.status_code == 401, again.json
    assert "already used" in again.json["reason"]
    assert len(broker.agent_tokens()) == 1


def test_a_different_token_of_the_same_workload_is_not_a_replay(broker):
    assert broker.ask(GOOD, jwt=broker.jwt(jti=None)).status_code == 201
    assert broker.ask(GOOD, jwt=broker.jwt(jti=None, job_id="2")).status_code == 201
