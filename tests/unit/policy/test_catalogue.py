"""The agent catalogue, pure: its file, the signals people read, the requester recipes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.policy.agents import agent_involvement, agent_requesters, requester_notes
from app.policy.catalogue import catalogue, enabled, parse_catalogue, parse_trailers
from app.policy.evaluate import evaluate
from app.policy.facts import Commit, Requester
from app.policy.load import load_policy
from app.policy.schema import DEFAULT_POLICY
from tests.factories import account, pr_facts, with_approvals

SHA = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"


def claude_commit(message_tail: str = "Co-Authored-By: Claude <noreply@anthropic.com>") -> Commit:
    return Commit(
        sha=SHA,
        author=account("hugo"),
        committer=account("hugo"),
        message=f"Fix it\n\n{message_tail}",
        author_identity="hugo <hugo@example.com>",
        trailers=parse_trailers(f"Fix it\n\n{message_tail}"),
    )


def test_every_entry_names_its_sources_and_a_date():
    found = catalogue()
    assert found.checked == "2026-11-29"
    for entry in found.entries:
        assert entry.sources, entry.name
        assert all(s.url.startswith("https://") and s.checked for s in entry.sources)
        assert entry.requester_note


def test_a_broken_catalogue_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        parse_catalogue("checked: x\nagents:\n  - {name: a, title: A, kind: robot}\n")
    with pytest.raises(ValueError, match="login group"):
        parse_catalogue(
            "checked: x\nagents:\n  - {name: a, title: A, kind: coding-agent,"
            " requester: [body], requester_patterns: ['x']}\n"
        )


def test_known_turns_entries_on_by_name_or_kind():
    assert len(enabled(True)) == len(catalogue().entries)
    assert enabled(False) == ()
    assert {e.name for e in enabled(("dependency-bot",))} == {"dependabot", "renovate"}
    assert [e.name for e in enabled(("claude",))] == ["claude"]


def test_the_reason_names_the_signal_and_the_agent():
    facts = pr_facts(commits=(claude_commit(),))
    reasons = agent_involvement(DEFAULT_POLICY, facts)
    assert (
        "commit 1a2b3c4 carries `Co-Authored-By: Claude <noreply@anthropic.com>` (Claude Code)"
        in reasons
    )


def test_a_marker_in_the_body_is_a_signal():
    facts = pr_facts(body="Done.\n\nhttps://chatgpt.com/codex/tasks/task_e_1")
    assert agent_involvement(DEFAULT_POLICY, facts) == (
        "the pull request body says `chatgpt.com/codex/tasks/` (OpenAI Codex)",
    )


def test_with_the_catalogue_off_nothing_of_it_counts():
    policy = load_policy("agents: {known: false}\n", "x")
    facts = pr_facts(head_ref="codex/x", commits=(claude_commit(),))
    assert agent_involvement(policy, facts) == ()


def test_a_co_author_with_a_no_reply_address_is_the_requester_of_a_claude_pull_request():
    trailer = "Co-authored-by: Alice <4175913+alice@users.noreply.github.com>"
    facts = pr_facts(
        author=account("claude[bot]"),
        commits=(claude_commit(f"{trailer}\nCo-Authored-By: Claude <noreply@anthropic.com>"),),
    )
    found = agent_requesters(DEFAULT_POLICY, facts)
    assert (
        found["alice"][1]
        == f"is the human Claude Code works for (commit 1a2b3c4 carries `{trailer}`)"
    )
    facts = with_approvals(facts, "alice", "maria")
    result = evaluate(DEFAULT_POLICY, facts, "built-in default")
    assert result.conclusion == "success"
    ignored = [a for node in result.root.children for a in node.approvals if not a.counted]
    assert [a.login for a in ignored] == ["alice"]


def test_an_agent_account_is_never_a_requester():
    facts = pr_facts(
        author=account("devin-ai-integration[bot]"),
        body="Requested by: @Copilot",
        requesters=(Requester("copilot-swe-agent[bot]", "assigned", "Copilot"),),
    )
    assert dict(agent_requesters(DEFAULT_POLICY, facts)) == {}


def test_an_assignment_counts_only_when_the_agent_made_it():
    author = account("sweep-ai[bot]")
    by_agent = pr_facts(author=author, requesters=(Requester("ann", "assigned", "sweep-ai[bot]"),))
    by_human = replace(by_agent, requesters=(Requester("ann", "assigned", "sam"),))
    assert "ann" in agent_requesters(DEFAULT_POLICY, by_agent)
    assert "ann" not in agent_requesters(DEFAULT_POLICY, by_human)


def test_the_summary_says_when_the_recipe_finds_nobody():
    facts = pr_facts(author=account("devin-ai-integration[bot]"), body="Requested by: Rohan")
    notes = requester_notes(DEFAULT_POLICY, facts)
    assert any(note.startswith("Devin: no requester found.") for note in notes), notes


def test_a_dependency_bot_has_no_requester():
    facts = pr_facts(author=account("dependabot[bot]"), head_ref="dependabot/pip/x-1")
    assert requester_notes(DEFAULT_POLICY, facts) == [
        "Dependabot: automation, nobody asked for the change"
    ]


def test_foureyes_agents_lists_the_catalogue():
    shown = CliRunner().invoke(cli, ["agents"])
    assert shown.exit_code == 0
    assert "copilot: GitHub Copilot coding agent (coding-agent)" in shown.output
    assert "dependabot: Dependabot (dependency-bot)" in shown.output
    as_json = CliRunner().invoke(cli, ["agents", "--json"])
    assert '"name": "renovate"' in as_json.output
