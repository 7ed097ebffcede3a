"""The agent-side Python client (clients/python/foureyes_token.py), run as agents run it:
its own process, the standard library only (`python -S`: no site-packages), against the
broker over HTTP, with GitHub Actions' OIDC endpoint served by the loopback issuer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.unit.identity.conftest import audience_env

ROOT = Path(__file__).resolve().parents[3]
CLIENT = ROOT / "clients" / "python" / "foureyes_token.py"


def actions_env(broker, **extra: str) -> dict[str, str]:
    """A GitHub Actions job's environment: the OIDC request URL and runtime token."""
    return {
        "PATH": "/usr/bin:/bin",
        "ACTIONS_ID_TOKEN_REQUEST_URL": broker.issuer.actions_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": broker.issuer.actions_request_token,
        **extra,
    }


def client(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # -S: no site-packages, so the client proves it needs nothing beyond the stdlib.
    command = [sys.executable, "-S", str(CLIENT), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def request(url: str, permissions: str = "contents:write,pull_requests:read", *extra: str):
    return ("request", "--url", url, "--repo", "acme/agents", "--permissions", permissions,
            *extra)  # fmt: skip


def reads_the_repository(broker, token: str) -> int:
    """What GitHub answers the token for a file of the repository it was issued for."""
    url = f"{broker.sim.url}/repos/acme/agents/contents/.github/foureyes.yml"
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code


def test_request_use_and_revoke(broker, served):
    audience_env(broker, served)
    issued = client(actions_env(broker), *request(served, "contents:write", "--json"))
    assert issued.returncode == 0, issued.stderr
    body = json.loads(issued.stdout)
    [held] = broker.agent_tokens()
    assert body["token"] == held.token
    assert held.permissions == {"contents": "write"}
    assert any(path.startswith("/actions/token?") for path in broker.issuer.requests)
    assert reads_the_repository(broker, body["token"]) == 200

    revoked = client(actions_env(broker), "revoke", body["token_id"], "--url", served)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == f"foureyes token {body['token_id']} revoked"
    assert broker.sim.world.tokens[body["token"]].revoked
    assert reads_the_repository(broker, body["token"]) == 401


def test_plain_request_prints_only_the_token_for_gh_token(broker, served):
    audience_env(broker, served)
    env = {
        "PATH": "/usr/bin:/bin",
        "FOUREYES_URL": served,
        "FOUREYES_ID_TOKEN": broker.jwt(aud=served),
    }
    issued = client(env, "request", "--repo", "acme/agents", "--permissions", "issues:read")
    assert issued.returncode == 0, issued.stderr
    [held] = broker.agent_tokens()
    assert issued.stdout == f"{held.token}\n"


def test_github_mode_masks_the_token_and_writes_step_outputs(broker, served, tmp_path):
    audience_env(broker, served)
    outputs = tmp_path / "github_output"
    env = actions_env(broker, GITHUB_OUTPUT=str(outputs), GITHUB_ACTIONS="true")
    issued = client(env, *request(served, "contents:write", "--github", "--ttl", "300"))
    assert issued.returncode == 0, issued.stderr
    [held] = broker.agent_tokens()
    first, *rest = issued.stdout.splitlines()
    assert first == f"::add-mask::{held.token}"
    assert held.token not in "\n".join(rest) + issued.stderr
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["token"] == held.token
    assert values["branch-prefix"].startswith("agents/ci-agents/")
    assert rest == [
        f"foureyes token {values['token-id']} for acme/agents (contents:write), "
        f"expires {values['expires-at']}"
    ]


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    return line


def test_a_denial_is_one_line_with_the_reason(broker, served):
    audience_env(broker, served)
    line = one_line_failure(client(actions_env(broker), *request(served, "administration:write")))
    assert line.startswith("foureyes: denied (403): ")
    assert "administration" in line
    assert broker.agent_tokens() == []


def test_an_escalation_is_one_line_with_where_a_human_approves(broker, served):
    audience_env(broker, served)
    line = one_line_failure(client(actions_env(broker), *request(served, "workflows:write")))
    [escalation] = broker.events("escalation.requested")
    assert line.startswith("foureyes: escalation required: ")
    assert f"a human approves at {served}/escalations/{escalation.data['escalation_id']}" in line
    assert line.endswith(f"then ask again with escalation {escalation.data['escalation_id']}")


def test_an_unproven_identity_is_one_line(broker, served):
    """The JWT names another audience than this foureyes: 401."""
    audience_env(broker, served)
    env = {"PATH": "/usr/bin:/bin", "FOUREYES_ID_TOKEN": broker.jwt(aud="https://elsewhere")}
    line = one_line_failure(client(env, *request(served)))
    assert line == "foureyes: unauthenticated (401): the token is not valid: Audience doesn't match"
    assert broker.agent_tokens() == []


def test_in_actions_a_failure_is_an_error_annotation(broker, served):
    audience_env(broker, served)
    env = actions_env(broker, GITHUB_ACTIONS="true")
    line = one_line_failure(client(env, *request(served, "secrets:read")))
    assert line.startswith("::error title=foureyes::foureyes: denied (403): ")


def test_missing_identity_url_and_broker_are_one_line_each(served):
    bare = {"PATH": "/usr/bin:/bin"}
    assert "id-token: write" in one_line_failure(client(bare, *request(served)))
    no_url = client(bare, "request", "--repo", "acme/agents", "--permissions", "contents:read")
    assert one_line_failure(no_url) == "foureyes: no foureyes URL: pass --url or set FOUREYES_URL"
    env = {**bare, "FOUREYES_ID_TOKEN": "x.y.z"}
    assert "is unreachable" in one_line_failure(client(env, *request("http://127.0.0.1:9")))
    bad = one_line_failure(client(env, *request(served, "contents")))
    assert bad == "foureyes: permission 'contents' is not NAME:read or NAME:write"
