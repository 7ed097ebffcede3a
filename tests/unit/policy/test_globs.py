"""The policy's one glob dialect."""

from __future__ import annotations

import pytest

from app.policy.globs import glob_match, login_match


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (".github/workflows/**", ".github/workflows/ci.yml", True),
        (".github/workflows/**", ".github/workflows/nested/ci.yml", True),
        (".github/workflows/*", ".github/workflows/nested/ci.yml", False),
        (".github/workflows/*", ".github/workflows/ci.yml", True),
        ("**/*.py", "setup.py", True),
        ("**/*.py", "src/app/main.py", True),
        ("*.py", "src/app/main.py", False),
        ("copilot/**", "copilot/fix-1", True),
        ("copilot/**", "copilot-fix", False),
        ("src/?.py", "src/a.py", True),
        ("src/?.py", "src//.py", False),
        ("main", "Main", False),
        ("release-*", "release-1.2", True),
    ],
)
def test_paths_and_branches(pattern, value, expected):
    assert glob_match(pattern, value) is expected


def test_brackets_are_literal_so_bot_logins_match_themselves():
    assert login_match("copilot-swe-agent[bot]", "copilot-swe-agent[bot]")
    assert not login_match("copilot-swe-agent[bot]", "copilot-swe-agentb")


def test_logins_are_case_insensitive():
    assert login_match("ci-agent-*", "CI-Agent-7")
    assert not glob_match("ci-agent-*", "CI-Agent-7")


def test_regex_characters_are_literal():
    assert glob_match("a.b+c", "a.b+c")
    assert not glob_match("a.b", "axb")
