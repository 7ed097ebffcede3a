"""`foureyes replay`: a recorded delivery, signed and fed to a running foureyes or run
in-process; the command reads its configuration from the environment like the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.demo.stack import LocalStack, local_stack
from tests.unit.web.test_pages import agent_pull

CONFIG_PREFIXES = ("FOUREYES_", "GITHUB_", "APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(tmp_path_factory.mktemp("replay")) as running:
        yield running


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stack: LocalStack, **extra: str):
    """The environment of an operator's shell on the machine running `stack`."""
    import os

    for name in list(os.environ):
        if name.startswith(CONFIG_PREFIXES) or name in ("DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    settings = stack.settings
    env = {
        "APP_ID": str(settings.app_id),
        "PRIVATE_KEY": settings.private_key or "",
        "WEBHOOK_SECRET": settings.webhook_secret or "",
        "GITHUB_API_URL": settings.github_api_url,
        "FOUREYES_URL": settings.foureyes_url,
        "DATABASE_URL": settings.database_url,
        "FOUREYES_INSTANCE_PATH": str(settings.instance_path),
        **extra,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout


def evaluations(stack: LocalStack, repo: str, number: int) -> int:
    from app.audit.query import events

    with stack.flask_app.extensions["foureyes"].sessions() as session:
        found = events(session, type="gate.evaluated", subject=f"{repo}#{number}", limit=500)
    return len(found)


def recorded(stack: LocalStack, repo: str, tmp_path: Path) -> tuple[Path, str]:
    """The `pull_request.opened` delivery GitHub sent for `repo`, saved as a file."""
    with stack.sim.world.lock:
        delivery = next(
            d
            for d in stack.sim.world.deliveries
            if d.event == "pull_request" and d.payload["repository"]["full_name"] == repo
        )
    path = tmp_path / "delivery.json"
    path.write_text(json.dumps(delivery.payload))
    return path, delivery.guid


def test_replay_signs_and_posts_the_payload_which_is_handled_again(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    path, _ = recorded(stack, pull.repo, tmp_path)
    before = evaluations(stack, pull.repo, pull.number)
    configure(monkeypatch, tmp_path, stack)
    result = CliRunner().invoke(cli, ["replay", str(path), "--event", "pull_request"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("202 pull_request delivery ")
    assert f"({stack.url}): queued" in result.output
    assert evaluations(stack, pull.repo, pull.number) == before + 1


def test_replaying_a_delivery_id_already_received_is_a_duplicate(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    path, guid = recorded(stack, pull.repo, tmp_path)
    before = evaluations(stack, pull.repo, pull.number)
    configure(monkeypatch, tmp_path, stack)
    args = ["replay", str(path), "--event", "pull_request", "--delivery", guid]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert result.output.startswith(f"200 pull_request delivery {guid}")
    assert "duplicate" in result.output
    assert evaluations(stack, pull.repo, pull.number) == before


def test_a_wrong_secret_is_refused_and_the_exit_status_says_so(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    path, _ = recorded(stack, pull.repo, tmp_path)
    before = evaluations(stack, pull.repo, pull.number)
    configure(monkeypatch, tmp_path, stack, WEBHOOK_SECRET="not the secret")
    result = CliRunner().invoke(cli, ["replay", str(path), "--event", "pull_request"])
    assert result.exit_code == 1
    assert result.output.startswith("401 ") and "X-Hub-Signature-256" in result.output
    assert evaluations(stack, pull.repo, pull.number) == before


def test_url_overrides_foureyes_url(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    path, _ = recorded(stack, pull.repo, tmp_path)
    configure(monkeypatch, tmp_path, stack, FOUREYES_URL="http://127.0.0.1:9")
    args = ["replay", str(path), "--event", "pull_request", "--url", stack.url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and f"({stack.url})" in result.output


def test_a_payload_that_is_not_a_json_object_is_refused(stack, tmp_path, monkeypatch):
    configure(monkeypatch, tmp_path, stack)
    for content in ("not json", "[1, 2]"):
        path = tmp_path / "bad.json"
        path.write_text(content)
        result = CliRunner().invoke(cli, ["replay", str(path), "--event", "push"])
        assert result.exit_code == 2 and "PAYLOAD" in result.output


def test_local_runs_the_handlers_in_this_process(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    path, _ = recorded(stack, pull.repo, tmp_path)
    before = evaluations(stack, pull.repo, pull.number)
    # Nothing listens there: --local must not need a running foureyes.
    configure(monkeypatch, tmp_path, stack, FOUREYES_URL="http://127.0.0.1:9")
    try:
        result = CliRunner().invoke(
            cli, ["replay", str(path), "--event", "pull_request", "--local"]
        )
    finally:
        stack.flask_app.extensions["celery"].set_default()
    assert result.exit_code == 0, result.output
    assert "(in-process): queued" in result.output
    assert evaluations(stack, pull.repo, pull.number) == before + 1
