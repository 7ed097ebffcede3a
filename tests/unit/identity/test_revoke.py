"""Revocation: by the agent's DELETE, at the TTL by the sweep (across restarts), by the
kill switch. GitHub (the simulator) must show the token dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from app import create_app
from app.cli import cli
from app.identity.models import AgentToken
from workers.tokens import revoke_due_tokens

GOOD = {"repository": "acme/agents", "permissions": {"contents": "write"}, "ttl": 600}


def sim_token(broker, raw):
    return broker.sim.world.tokens[raw]


def make_due(broker, token_id=None):
    """Time passes: the tokens' TTL has run out."""
    with broker.app.extensions["foureyes"].sessions.begin() as session:
        query = update(AgentToken).values(revoke_at=datetime.now(UTC) - timedelta(seconds=1))
        if token_id:
            query = query.where(AgentToken.id == token_id)
        session.execute(query)


@pytest.mark.parametrize("broker", ["sql", "redis"], indirect=True)
def test_the_agent_revokes_its_own_token(broker):
    issued = broker.ask(GOOD).json
    response = broker.client.delete(
        f"/api/tokens/{issued['token_id']}", headers={"Authorization": f"Bearer {broker.jwt()}"}
    )
    assert response.status_code == 204
    assert sim_token(broker, issued["token"]).revoked
    [revoked] = broker.events("token.revoked")
    assert revoked.subject == f"token:{issued['token_id']}"
    assert revoked.reason == "revoked by the agent"
    # Idempotent: asking again is fine and changes nothing.
    again = broker.client.delete(
        f"/api/tokens/{issued['token_id']}", headers={"Authorization": f"Bearer {broker.jwt()}"}
    )
    assert again.status_code == 204
    assert len(broker.events("token.revoked")) == 1


def test_another_identity_cannot_revoke_it(broker):
    issued = broker.ask(GOOD).json
    stranger = broker.jwt(ref="refs/heads/other-branch")
    response = broker.client.delete(
        f"/api/tokens/{issued['token_id']}", headers={"Authorization": f"Bearer {stranger}"}
    )
    assert response.status_code == 404
    unauthenticated = broker.client.delete(f"/api/tokens/{issued['token_id']}")
    assert unauthenticated.status_code == 401
    assert not sim_token(broker, issued["token"]).revoked


def test_the_sweep_revokes_tokens_whose_ttl_ran_out_and_only_those(broker):
    due = broker.ask(GOOD).json
    live = broker.ask(GOOD).json
    make_due(broker, due["token_id"])
    with broker.app.app_context():
        assert revoke_due_tokens() == 1
        assert revoke_due_tokens() == 0
    assert sim_token(broker, due["token"]).revoked
    assert not sim_token(broker, live["token"]).revoked
    [revoked] = broker.events("token.revoked")
    assert "TTL" in revoked.reason


def test_revocation_survives_a_restart(broker):
    issued = broker.ask(GOOD).json
    make_due(broker)
    # A new process: a fresh app on the same database and shared state.
    restarted = create_app(broker.app.extensions["foureyes"].settings)
    with restarted.app_context():
        assert revoke_due_tokens() == 1
    restarted.extensions["foureyes"].engine.dispose()
    assert sim_token(broker, issued["token"]).revoked


def test_a_sweep_failing_at_github_retries_next_time(broker):
    issued = broker.ask(GOOD).json
    make_due(broker)
    broker.sim.fail("DELETE", r"^/installation/token$", 502, times=3)
    with broker.app.app_context():
        assert revoke_due_tokens() == 0
    assert not sim_token(broker, issued["token"]).revoked
    with broker.app.app_context():
        assert revoke_due_tokens() == 1
    assert sim_token(broker, issued["token"]).revoked


def test_the_kill_switch_revokes_one_agent_or_all(broker, monkeypatch, tmp_path):
    first = broker.ask(GOOD).json
    other = broker.ask(GOOD, jwt=broker.jwt(ref="refs/heads/dev")).json
    settings = broker.app.extensions["foureyes"].settings
    env = {
        "APP_ID": str(settings.app_id),
        "PRIVATE_KEY": settings.private_key,
        "WEBHOOK_SECRET": settings.webhook_secret,
        "GITHUB_API_URL": settings.github_api_url,
        "DATABASE_URL": settings.database_url,
        "FOUREYES_INSTANCE_PATH": str(settings.instance_path),
        "FOUREYES_EAGER": "1",
    }
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["token", "revoke", "--agent", "repo:acme/agents:ref:refs/heads/main"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "1 of 1 tokens revoked" in result.output
    assert sim_token(broker, first["token"]).revoked
    assert not sim_token(broker, other["token"]).revoked
    result = runner.invoke(cli, ["token", "revoke", "--all"], env=env)
    assert result.exit_code == 0, result.output
    assert sim_token(broker, other["token"]).revoked
    reasons = {event.reason for event in broker.events("token.revoked")}
    assert reasons == {"revoked by an operator (kill switch)"}


def test_the_kill_switch_needs_a_target():
    result = CliRunner().invoke(cli, ["token", "revoke"])
    assert result.exit_code != 0
    assert "exactly one of" in result.output
