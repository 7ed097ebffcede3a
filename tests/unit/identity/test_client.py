"""The agent's command: `foureyes token request` and `foureyes token release` over HTTP."""

from __future__ import annotations

import json

from click.testing import CliRunner

from app.cli import cli
from tests.unit.identity.conftest import audience_env


def request_args(url: str, *extra: str) -> list[str]:
    return [
        "token", "request", "--repo", "acme/agents",
        "--permissions", "contents:write,pull_requests:read", "--url", url, *extra,
    ]  # fmt: skip


def test_request_prints_the_token_for_gh_token(broker, served):
    audience_env(broker, served)
    jwt = broker.jwt(aud=served)
    result = CliRunner().invoke(cli, request_args(served), env={"FOUREYES_ID_TOKEN": jwt})
    assert result.exit_code == 0, result.output
    [token] = broker.agent_tokens()
    assert result.output.strip() == token.token
    assert token.permissions == {"contents": "write", "pull_requests": "read"}


def test_request_from_github_actions_oidc_with_json_and_release(broker, served, tmp_path):
    audience_env(broker, served)
    env = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": broker.issuer.actions_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": broker.issuer.actions_request_token,
        "FOUREYES_ID_TOKEN": "",
    }
    result = CliRunner().invoke(cli, request_args(served, "--json", "--ttl", "300"), env=env)
    assert result.exit_code == 0, result.output
    issued = json.loads(result.output)
    assert issued["branch_prefix"].startswith("agents/ci-agents/")
    jwt_file = tmp_path / "id-token"
    jwt_file.write_text(broker.jwt(aud=served))
    released = CliRunner().invoke(
        cli,
        ["token", "release", issued["token_id"], "--url", served, "--id-token-file", jwt_file],
        env={"FOUREYES_ID_TOKEN": ""},
    )
    assert released.exit_code == 0, released.output
    assert broker.sim.world.tokens[issued["token"]].revoked


def test_an_escalation_tells_the_agent_where_a_human_approves(broker, served):
    audience_env(broker, served)
    result = CliRunner().invoke(
        cli,
        [*request_args(served)[:4], "--permissions", "workflows:write", "--url", served],
        env={"FOUREYES_ID_TOKEN": broker.jwt(aud=served)},
    )
    assert result.exit_code != 0
    assert "escalation_required" in result.output
    assert f"{served}/escalations/" in result.output
    assert "--escalation " in result.output


def test_no_identity_token_is_a_clear_error(served):
    result = CliRunner().invoke(
        cli,
        request_args(served),
        env={
            "FOUREYES_ID_TOKEN": "",
            "ACTIONS_ID_TOKEN_REQUEST_URL": "",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "",
        },
    )
    assert result.exit_code != 0
    assert "id-token: write" in result.output


def test_json_is_json_on_every_path_with_the_exit_status_for_each(broker, served):
    """--json prints the broker's answer when it refuses (exit 1: a problem found), and
    why no answer came when none did (exit 2: could not run)."""
    audience_env(broker, served)
    refused = CliRunner().invoke(
        cli,
        [*request_args(served)[:4], "--permissions", "workflows:write", "--url", served, "--json"],
        env={"FOUREYES_ID_TOKEN": broker.jwt(aud=served)},
    )
    assert refused.exit_code == 1
    answer = json.loads(refused.stdout)
    assert (answer["status"], answer["error"]) == (403, "escalation_required")
    assert answer["escalation"]["url"].startswith(f"{served}/escalations/")
    unreachable = CliRunner().invoke(
        cli,
        request_args("http://127.0.0.1:9", "--json"),
        env={"FOUREYES_ID_TOKEN": "x.y.z"},
    )
    assert unreachable.exit_code == 2
    assert json.loads(unreachable.stdout)["error"] == "could_not_run"
