"""Conditional requests as GitHub documents them: an ETag only on a 200 GET or HEAD,
a matching `If-None-Match` answered 304 with that ETag, no body and no rate-limit cost."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from githubkit import GitHub

from app.simulator import Installed, Simulator

README = "/repos/acme/widgets/contents/README.md"


@pytest.fixture
def api(simulator: Simulator, installed: Installed, app_github: GitHub) -> Iterator[httpx.Client]:
    minted = app_github.rest.apps.create_installation_access_token(installed.installation_id)
    headers = {"Authorization": f"token {minted.parsed_data.token}"}
    with httpx.Client(base_url=simulator.url, headers=headers) as client:
        yield client


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


def test_304_carries_the_etag_no_body_and_costs_nothing(api: httpx.Client) -> None:
    first = api.get(README)
    etag = first.headers["etag"]
    again = api.get(README, headers={"If-None-Match": f'"other", {etag}'})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.content == b""
    assert remaining(again) == remaining(first)
    assert remaining(api.get(README)) == remaining(first) - 1


def test_head_answers_the_gets_etag_without_a_body(api: httpx.Client) -> None:
    got = api.get(README)
    head = api.head(README)
    assert head.status_code == 200
    assert head.headers["etag"] == got.headers["etag"]
    assert head.content == b""
    assert api.head(README, headers={"If-None-Match": got.headers["etag"]}).status_code == 304


def test_not_found_carries_no_etag_even_when_asked_conditionally(api: httpx.Client) -> None:
    missing = "/repos/acme/widgets/contents/nothing-here.md"
    response = api.get(missing, headers={"If-None-Match": "*"})
    assert response.status_code == 404
    assert "etag" not in response.headers
    assert api.head(missing).status_code == 404
    assert "etag" not in api.head(missing).headers


def test_writes_carry_no_etag(simulator: Simulator, api: httpx.Client) -> None:
    created = api.post("/repos/acme/widgets/issues", json={"title": "Escalation"})
    assert created.status_code == 201
    assert "etag" not in created.headers
