"""GitHub's authentication rules: app JWTs, installation tokens, scopes."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.simulator import Installed, Simulator
from tests.conftest import app_jwt

# One client for the module: building one costs ~0.1 s (TLS context), the calls do not.
CLIENT = httpx.Client()


def status(simulator: Simulator, method: str, path: str, token: str | None, **kw: object) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return CLIENT.request(method, simulator.url + path, headers=headers, **kw).status_code


def mint(simulator: Simulator, installed: Installed, **body: object) -> httpx.Response:
    return CLIENT.post(
        f"{simulator.url}/app/installations/{installed.installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {app_jwt(installed)}"},
        json=body,
    )


def test_a_valid_app_jwt_reads_the_app(app_github: GitHub, installed: Installed) -> None:
    app = app_github.rest.apps.get_authenticated().parsed_data
    assert app.id == installed.app_id
    assert app.slug == "foureyes"


def test_jwts_github_would_refuse_get_401(simulator: Simulator, installed: Installed) -> None:
    now = int(time.time())
    other_key = jwt.encode(  # signed by a key the app does not have
        {"iat": now, "exp": now + 60, "iss": str(installed.app_id)}, "x" * 32, algorithm="HS256"
    )
    too_long = app_jwt(installed, lifetime=900)
    expired = jwt.encode(
        {"iat": now - 1200, "exp": now - 600, "iss": str(installed.app_id)},
        installed.private_key,
        algorithm="RS256",
    )
    unknown_app = jwt.encode(
        {"iat": now, "exp": now + 60, "iss": "999999"}, installed.private_key, algorithm="RS256"
    )
    for token in (other_key, too_long, expired, unknown_app, None):
        assert status(simulator, "GET", "/app", token) == 401


def test_app_endpoints_refuse_installation_tokens_and_vice_versa(
    simulator: Simulator, installed: Installed, installation_github: GitHub
) -> None:
    token = mint(simulator, installed).json()["token"]
    assert status(simulator, "GET", "/app", token) == 401
    assert status(simulator, "GET", "/repos/acme/widgets", app_jwt(installed)) == 401
    assert status(simulator, "GET", "/repos/acme/widgets", token) == 200


def test_a_token_sees_only_its_repositories(simulator: Simulator, installed: Installed) -> None:
    simulator.add_repo("acme/gadgets")
    simulator.add_repo("globex/secret")
    token = mint(simulator, installed, repositories=["widgets"]).json()["token"]
    assert status(simulator, "GET", "/repos/acme/widgets", token) == 200
    assert status(simulator, "GET", "/repos/acme/gadgets", token) == 404
    assert status(simulator, "GET", "/repos/globex/secret", token) == 404


def test_a_token_without_the_permission_gets_403(
    simulator: Simulator, installed: Installed
) -> None:
    token = mint(simulator, installed, permissions={"contents": "read"}).json()["token"]
    path = "/repos/acme/widgets/contents/README.md"
    assert status(simulator, "GET", path, token) == 200
    assert status(simulator, "GET", "/repos/acme/widgets/pulls", token) == 403
    created = status(
        simulator, "POST", "/repos/acme/widgets/issues", token, json={"title": "no issues:write"}
    )
    assert created == 403


def test_permissions_beyond_the_installation_are_refused(
    simulator: Simulator, installed: Installed
) -> None:
    assert mint(simulator, installed, permissions={"secrets": "write"}).status_code == 422
    assert mint(simulator, installed, repositories=["nope"]).status_code == 422


def test_minted_token_matches_the_request(simulator: Simulator, installed: Installed) -> None:
    body = mint(
        simulator, installed, repositories=["widgets"], permissions={"contents": "write"}
    ).json()
    assert body["token"].startswith("ghs_")
    assert body["permissions"] == {"contents": "write"}
    assert [r["full_name"] for r in body["repositories"]] == ["acme/widgets"]
    token = simulator.world.tokens[body["token"]]
    assert (token.expires_at - simulator.world.now()).total_seconds() > 3500


def test_a_revoked_token_gets_401(simulator: Simulator, installed: Installed) -> None:
    token = mint(simulator, installed).json()["token"]
    assert status(simulator, "DELETE", "/installation/token", token) == 204
    assert status(simulator, "GET", "/repos/acme/widgets", token) == 401


def test_an_expired_token_gets_401(simulator: Simulator, installed: Installed) -> None:
    token = mint(simulator, installed).json()["token"]
    simulator.world.tokens[token].expires_at = simulator.world.now()
    assert status(simulator, "GET", "/repos/acme/widgets", token) == 401


def test_repository_installation_needs_the_app_jwt(
    app_github: GitHub, installed: Installed
) -> None:
    found = app_github.rest.apps.get_repo_installation("acme", "widgets").parsed_data
    assert found.id == installed.installation_id
    with pytest.raises(RequestFailed) as missing:
        app_github.rest.apps.get_repo_installation("acme", "nothing")
    assert missing.value.response.status_code == 404


def test_requests_are_recorded_without_credentials(
    simulator: Simulator, installed: Installed, installation_github: GitHub
) -> None:
    simulator.clear_requests()
    installation_github.rest.repos.get("acme", "widgets")
    [recorded] = simulator.requests
    assert (recorded.method, recorded.path, recorded.status) == ("GET", "/repos/acme/widgets", 200)
    assert recorded.auth == "installation"
    assert recorded.installation_id == installed.installation_id
    assert "authorization" not in {name.lower() for name in recorded.headers}


def test_a_jwt_under_the_token_scheme_is_refused_as_github_does(
    simulator: Simulator, installed: Installed
) -> None:
    """GitHub reads `token X` as an OAuth or installation token: a JWT there is 401."""
    jwt_ = app_jwt(installed)
    for scheme in ("token", "TOKEN"):
        refused = CLIENT.get(simulator.url + "/app", headers={"Authorization": f"{scheme} {jwt_}"})
        assert refused.status_code == 401
        assert refused.json()["message"] == "A JSON web token could not be decoded"
    accepted = CLIENT.get(simulator.url + "/app", headers={"Authorization": f"bearer {jwt_}"})
    assert accepted.status_code == 200


def test_a_jwt_longer_than_ten_minutes_or_issued_in_the_future_is_refused(
    simulator: Simulator, installed: Installed
) -> None:
    now = int(time.time())

    def signed(iat: int, exp: int) -> str:
        claims = {"iat": iat, "exp": exp, "iss": str(installed.app_id)}
        return jwt.encode(claims, installed.private_key, algorithm="RS256")

    # exp is within 10 minutes of now, but 11 minutes after iat: GitHub caps exp - iat.
    assert status(simulator, "GET", "/app", signed(now - 300, now + 360)) == 401
    assert status(simulator, "GET", "/app", signed(now + 300, now + 500)) == 401
    assert status(simulator, "GET", "/app", signed(now - 60, now + 540)) == 200


def test_installation_tokens_work_under_both_schemes(
    simulator: Simulator, installed: Installed
) -> None:
    token = mint(simulator, installed).json()["token"]
    for scheme in ("token", "Bearer"):
        answer = CLIENT.get(
            simulator.url + "/repos/acme/widgets", headers={"Authorization": f"{scheme} {token}"}
        )
        assert answer.status_code == 200
    unknown = CLIENT.get(
        simulator.url + "/repos/acme/widgets", headers={"Authorization": "token ghs_unknown"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["message"] == "Bad credentials"
