"""The README and docs/: every relative link leads somewhere, the README stays short.

A link's anchor must be a heading of the target file, slugged as GitHub slugs it: the
heading's text lowercased, punctuation dropped (letters, digits, `-`, `_` and spaces
kept), spaces turned into `-`, and `-1`, `-2`... added to repeated headings.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import click
import pytest

from app.cli import cli

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]

FENCE = re.compile(r"^ {0,3}(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def prose(text: str) -> str:
    """The text outside fenced code blocks (their lines blanked, so lines still count)."""
    lines, fenced = [], None
    for line in text.splitlines():
        match = FENCE.match(line)
        if fenced is None and match:
            fenced = match.group(1)
            lines.append("")
        elif fenced is not None:
            if line.strip().startswith(fenced):
                fenced = None
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def slug(heading: str) -> str:
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = INLINE_LINK.sub(lambda m: m.group(1), text)
    text = text.replace("*", "").lower()
    kept = "".join(
        c for c in text if c.isalnum() or c in "-_ " or unicodedata.category(c).startswith("M")
    )
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text()).splitlines():
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    text = CODE_SPAN.sub("", prose(path.read_text()))
    return LINK.findall(text)


def broken(page: Path) -> list[str]:
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if ROOT not in dest.parents and dest != ROOT:
            problems.append(f"{target}: outside the repository")
        elif not dest.exists():
            problems.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    return problems


def test_slugs_follow_github():
    assert slug("Is the gate really enforced? (`foureyes doctor`)") == (
        "is-the-gate-really-enforced-foureyes-doctor"
    )
    assert slug("Who may get what: the policy's `tokens`") == "who-may-get-what-the-policys-tokens"
    assert slug("Results (`python -m bench`, 74 s)") == "results-python--m-bench-74-s"
    assert slug("The `.env` file") == "the-env-file"


def test_a_broken_link_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Title\n\n[ok](#title) [no](#nope) [gone](b.md)\n")
    assert broken(tmp_path / "a.md") == ["#nope: no heading #nope in a.md", "b.md: no such file"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(page):
    assert broken(page) == []


def test_the_readme_is_a_short_guide():
    assert len(README.read_text().splitlines()) < 300


def test_the_readme_shows_the_install_and_test_commands_ci_runs():
    text = README.read_text()
    assert "pip install -e '.[dev]'" in text
    assert "python -m pytest" in text


def test_the_readme_links_every_doc():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README)}
    assert [doc.name for doc in DOCS if doc.resolve() not in linked] == []


def commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_the_cli_reference_names_every_command_and_option():
    text = (ROOT / "docs" / "cli.md").read_text()
    missing = []
    for path, command in commands(cli):
        title = "## foureyes " + " ".join(path)
        if title + "\n" not in text:
            missing.append(title)
            continue
        section = text.split(title + "\n", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            for opt in param.opts if isinstance(param, click.Option) else ():
                if not re.search(rf"`{re.escape(opt)}[ `\\]", section):
                    missing.append(f"foureyes {' '.join(path)} {opt}")
    assert missing == []
