"""`foureyes demo`: the whole story, offline, on the simulator, with the audit trail."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from app.cli import cli


def play() -> str:
    result = CliRunner().invoke(cli, ["demo"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def first_run() -> str:
    return play()


def identities(out: str) -> set[str]:
    """The agent's identity wherever the demo prints it."""
    return set(re.findall(r"agent:? (\S+ agent:acme/\w+)", out))


def test_the_agent_reads_the_same_in_every_run(first_run: str):
    """The demo's issuer listens on a port of the moment; the identity it prints (the
    issuer's name, then the subject) does not carry it."""
    assert identities(first_run) == {"http://127.0.0.1/demo-issuer agent:acme/fixer"}
    assert identities(play()) == identities(first_run)


def test_the_demo_plays_the_story_and_prints_the_audit_trail(first_run: str):
    out = first_run
    assert "the simulated GitHub refused" not in out
    timeline, _, trail = out.partition("audit trail: agent ")
    steps = [
        "asks for contents: write, pull_requests: write",
        "opens pull request #1 from agents/coding-agents/",
        ": action_required: Blocked: human review needs 1 more approval",
        "approval by renovate[bot] ignored: is a bot",
        "approval by alice ignored: is the human the agent works for",
        "approval by maria counted: write permission",
        ": success: Approved by maria",
        "the agent pushes again",
        ": action_required: Blocked",
        "deploys fix-names to production",
        "deployment rejected: foureyes: rejected",
        "403 escalation_required: needs a human's approval for workflows: write",
        "sam (admin) comments /foureyes approve",
        "is closed",
        "issued: contents: write, workflows: write",
        "403 denied: the escalation is used",
    ]
    position = 0
    for step in steps:
        found = timeline.find(step, position)
        assert found >= 0, f"{step!r} missing or out of order in:\n{timeline}"
        position = found + len(step)
    # The new head is blocked although the old one was approved.
    heads = re.search(r"pushes again: head (\w{7}) -> (\w{7})", timeline)
    assert heads and f"on {heads.group(2)}: action_required" in timeline

    # The agent's audit trail: its tokens, every evaluation of its pull request, the
    # rejected deployment, the escalation and the refused reuse; the chain verifies.
    events = re.findall(r"^#\d+\s+\S+\s+(\S+)", trail, re.MULTILINE)
    assert events.count("token.issued") == 2
    assert events.count("gate.evaluated") == 5
    for event in ("deployment.rejected", "escalation.requested", "escalation.approved"):
        assert event in events
    assert "token.denied" in trail and "the escalation is used" in trail
    assert "approval counted: maria" in trail
    assert "approval ignored: alice (is the human the agent works for)" in trail
    assert re.search(r"audit log intact: \d+ events", trail)
