"""`foureyes policy explain`: the decision the check run shows, read live from GitHub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.demo.stack import LocalStack, local_stack
from tests.unit.test_replay import configure
from tests.unit.web.test_pages import agent_pull


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(tmp_path_factory.mktemp("explain")) as running:
        yield running


def check_title(stack: LocalStack, repo: str, number: int) -> tuple[str, str]:
    with stack.sim.world.lock:
        head = stack.sim.world.repo(repo).pulls[number].head_sha
        [run] = [r for r in stack.sim.world.check_runs.values() if r.head_sha == head]
        return str(run.conclusion), run.output["title"]


def explain(repo: str, number: int):
    return CliRunner().invoke(cli, ["policy", "explain", "--repo", repo, "--pr", str(number)])


def test_a_blocked_pull_request_is_explained_as_its_check_says(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    configure(monkeypatch, tmp_path, stack)
    result = explain(pull.repo, pull.number)
    assert result.exit_code == 1, result.output
    conclusion, title = check_title(stack, pull.repo, pull.number)
    assert result.output.splitlines()[0] == f"{conclusion}: {title}"
    assert "[pending] human review" in result.output
    assert "who can unblock: 1 more approval" in result.output
    assert "agent token" in result.output  # why this is agent work


def test_an_approved_pull_request_exits_0(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    stack.sim.review(pull.repo, pull.number, "alice")  # the agent's human: ignored
    stack.sim.review(pull.repo, pull.number, "maria")
    configure(monkeypatch, tmp_path, stack)
    result = explain(pull.repo, pull.number)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("success: Approved by maria")
    assert "- alice: is the human the agent works for" in result.output
    assert "+ maria: write permission" in result.output


def test_a_broken_policy_blocks(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    stack.sim.push_default_branch(
        pull.repo, {".github/foureyes.yml": "version: 1\nmerge: {rulez: []}\n"}, pusher="maria"
    )
    configure(monkeypatch, tmp_path, stack)
    result = explain(pull.repo, pull.number)
    assert result.exit_code == 1
    assert result.output.startswith("failure:") and "rulez" in result.output


def test_what_cannot_be_evaluated_exits_2(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    configure(monkeypatch, tmp_path, stack)
    missing = explain(pull.repo, 999)
    assert missing.exit_code == 2 and "cannot evaluate" in missing.output
    elsewhere = explain("nobody/nothing", 1)
    assert elsewhere.exit_code == 2 and "cannot evaluate" in elsewhere.output
    assert explain("not-a-repo", 1).exit_code == 2


def test_observe_mode_is_explained_as_the_neutral_check_says(stack, tmp_path, monkeypatch):
    pull = agent_pull(stack)
    stack.sim.push_default_branch(
        pull.repo, {".github/foureyes.yml": "version: 1\nmode: observe\n"}, pusher="maria"
    )
    configure(monkeypatch, tmp_path, stack)
    result = explain(pull.repo, pull.number)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("neutral: Would block: human review needs 1 more approval")
    assert "[pending] human review" in result.output  # what enforcing would wait for
