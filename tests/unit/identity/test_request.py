"""The body of POST /api/tokens: malformed requests are refused with a clear reason."""

from __future__ import annotations

import json

import pytest

from app.identity.request import MalformedRequest, parse_token_request


def parse(body):
    return parse_token_request(json.dumps(body).encode())


GOOD = {"repository": "acme/app", "permissions": {"contents": "write"}}


def test_a_good_request():
    request = parse({**GOOD, "ttl": 600, "task": "fix #12"})
    assert request.repository == "acme/app"
    assert request.permissions == {"contents": "write"}
    assert (request.ttl, request.task, request.escalation) == (600, "fix #12", None)


@pytest.mark.parametrize(
    "body, reason",
    [
        ({**GOOD, "scope": "all"}, "unknown keys: scope"),
        ({**GOOD, "repository": "acme"}, "owner/repo"),
        ({**GOOD, "repository": "acme/app/extra"}, "owner/repo"),
        ({**GOOD, "repository": "acme/.."}, "owner/repo"),
        ({**GOOD, "permissions": ["contents"]}, "mapping"),
        ({**GOOD, "permissions": {}}, "mapping"),
        ({**GOOD, "permissions": {"contents": "admin"}}, "read or write"),
        ({**GOOD, "permissions": {"everything": "read"}}, "unknown permission"),
        ({**GOOD, "ttl": 59}, "ttl"),
        ({**GOOD, "ttl": 3601}, "ttl"),
        ({**GOOD, "ttl": "600"}, "ttl"),
        ({**GOOD, "ttl": True}, "ttl"),
        ({**GOOD, "ttl": 600.5}, "ttl"),
        ({**GOOD, "task": 5}, "task"),
        ({**GOOD, "escalation": "x"}, "escalation"),
        ([GOOD], "JSON object"),
    ],
)
def test_malformed_requests_say_why(body, reason):
    with pytest.raises(MalformedRequest, match=reason):
        parse(body)


def test_not_json():
    with pytest.raises(MalformedRequest, match="not JSON"):
        parse_token_request(b"{repository")
