"""The exact Authorization header of each kind of call `GitHubApp` makes.

The first release sent the app JWT as `token <JWT>`: GitHub refuses that (401), and a
simulator that accepted it hid the defect. Here every call goes over real HTTP to the
simulator, which refuses a JWT under any scheme but `Bearer`, and records the scheme.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config import Settings
from app.db import make_engine
from app.errors import TransientError
from app.github.client import GitHubApp, github_errors
from app.migrate import upgrade
from app.simulator import Installed, Simulator
from app.state import SqlState


@pytest.fixture
def github_app(simulator: Simulator, installed: Installed, tmp_path) -> GitHubApp:
    settings = Settings.from_mapping(
        {
            "APP_ID": str(installed.app_id),
            "PRIVATE_KEY": installed.private_key,
            "GITHUB_API_URL": simulator.url,
        }
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    upgrade(engine, tmp_path)
    return GitHubApp(settings, SqlState(engine))


def calls(simulator: Simulator) -> list[tuple[str, str, str | None, str, int]]:
    return [(r.method, r.path, r.scheme, r.auth, r.status) for r in simulator.requests]


def test_app_level_calls_send_the_jwt_as_bearer(
    simulator: Simulator, installed: Installed, github_app: GitHubApp
) -> None:
    simulator.clear_requests()
    assert github_app.bot_login() == "foureyes[bot]"
    assert github_app.repository_installation("acme/widgets") == installed.installation_id
    minted = github_app.mint_token(installed.installation_id, "acme/widgets", {"contents": "read"})
    github_app.installation_token(installed.installation_id)
    path = f"/app/installations/{installed.installation_id}/access_tokens"
    assert calls(simulator) == [
        ("GET", "/app", "bearer", "app", 200),
        ("GET", "/repos/acme/widgets/installation", "bearer", "app", 200),
        ("POST", path, "bearer", "app", 201),
        ("POST", path, "bearer", "app", 201),
    ]
    assert minted["permissions"] == {"contents": "read"}


def test_installation_calls_send_the_installation_token(
    simulator: Simulator, installed: Installed, github_app: GitHubApp
) -> None:
    client = github_app.for_installation(installed.installation_id)
    simulator.clear_requests()
    assert client.rest.repos.get("acme", "widgets").json()["full_name"] == "acme/widgets"
    minted = github_app.mint_token(installed.installation_id, "acme/widgets", {})
    github_app.revoke_token(minted["token"])
    assert [c for c in calls(simulator) if c[0] != "POST"] == [
        ("GET", "/repos/acme/widgets", "token", "installation", 200),
        ("DELETE", "/installation/token", "token", "installation", 204),
    ]


def test_a_jwt_is_cached_per_app_object_never_shared_by_app_id(
    simulator: Simulator, installed: Installed, github_app: GitHubApp, tmp_path
) -> None:
    """githubkit's default cache keys JWTs by app id alone; ours is per app object, so an
    object holding another key for the same id (a rotated key) never reuses this one's
    valid JWT, and this one's JWT is not poisoned by the other's refused one."""
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    rotated = GitHubApp(
        Settings.from_mapping(
            {"APP_ID": str(installed.app_id), "PRIVATE_KEY": pem, "GITHUB_API_URL": simulator.url}
        ),
        github_app.state,
    )
    assert github_app.repository_installation("acme/widgets") == installed.installation_id
    with pytest.raises(TransientError, match=r"refused foureyes' credentials \(401\)"):
        rotated.repository_installation("acme/widgets")
    assert github_app.repository_installation("acme/widgets") == installed.installation_id


def test_an_installation_token_github_refuses_is_forgotten_and_the_retry_mints_anew(
    simulator: Simulator, installed: Installed, github_app: GitHubApp
) -> None:
    """A cached token revoked at GitHub (401) used to fail every task until it expired."""
    first = github_app.installation_token(installed.installation_id)
    github_app.revoke_token(first)
    client = github_app.for_installation(installed.installation_id)
    with pytest.raises(TransientError, match=r"\(401\)"), github_errors():
        client.rest.repos.get("acme", "widgets")
    second = github_app.installation_token(installed.installation_id)
    assert second != first
    retry = github_app.for_installation(installed.installation_id)
    assert retry.rest.repos.get("acme", "widgets").json()["full_name"] == "acme/widgets"
