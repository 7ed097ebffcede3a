"""Fault injection: outages, rate limits and slow answers, as githubkit sees them."""

from __future__ import annotations

import time

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import (
    PrimaryRateLimitExceeded,
    RequestFailed,
    SecondaryRateLimitExceeded,
)

from app.simulator import Simulator


def test_a_502_fails_the_given_number_of_times(
    simulator: Simulator, installation_github: GitHub
) -> None:
    simulator.fail("GET", r"^/repos/acme/widgets$", 502, times=2)
    for _ in range(2):
        with pytest.raises(RequestFailed) as failed:
            installation_github.rest.repos.get("acme", "widgets")
        assert failed.value.response.status_code == 502
    assert installation_github.rest.repos.get("acme", "widgets").status_code == 200
    assert [r.status for r in simulator.requests[-3:]] == [502, 502, 200]


def test_faults_match_method_and_path(simulator: Simulator, installation_github: GitHub) -> None:
    simulator.fail("POST", r"/issues$", 502)
    assert installation_github.rest.repos.get("acme", "widgets").status_code == 200
    with pytest.raises(RequestFailed):
        installation_github.rest.issues.create("acme", "widgets", title="x")


def test_429_is_a_secondary_rate_limit_with_retry_after(
    simulator: Simulator, installation_github: GitHub
) -> None:
    simulator.fail("GET", r"/pulls$", 429, headers={"Retry-After": "7"})
    with pytest.raises(SecondaryRateLimitExceeded) as limited:
        installation_github.rest.pulls.list("acme", "widgets")
    assert limited.value.retry_after.total_seconds() == 7


def test_403_secondary_rate_limit(simulator: Simulator, installation_github: GitHub) -> None:
    simulator.fail("GET", r"^/repos/acme/widgets$", 403)
    with pytest.raises(SecondaryRateLimitExceeded) as limited:
        installation_github.rest.repos.get("acme", "widgets")
    assert "secondary rate limit" in limited.value.response.json()["message"]


def test_primary_rate_limit_waits_for_the_reset(
    simulator: Simulator, installation_github: GitHub
) -> None:
    simulator.fail_rate_limit("GET", r"^/repos/acme/widgets$", reset_in=120)
    with pytest.raises(PrimaryRateLimitExceeded) as limited:
        installation_github.rest.repos.get("acme", "widgets")
    assert limited.value.response.headers["x-ratelimit-remaining"] == "0"
    assert 60 < limited.value.retry_after.total_seconds() <= 120


def test_rate_limit_headers_count_down(simulator: Simulator, installation_github: GitHub) -> None:
    first = installation_github.rest.repos.get("acme", "widgets").headers
    second = installation_github.rest.repos.get("acme", "widgets").headers
    assert first["x-ratelimit-limit"] == "5000"
    assert int(second["x-ratelimit-remaining"]) == int(first["x-ratelimit-remaining"]) - 1
    assert int(first["x-ratelimit-reset"]) > time.time()


def test_slow_answers_trip_client_timeouts(simulator: Simulator) -> None:
    simulator.add_user("alice")
    simulator.slow(r"^/users/alice$", seconds=1.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{simulator.url}/users/alice", timeout=0.2)
    assert httpx.get(f"{simulator.url}/users/alice", timeout=5).status_code == 200
