"""Render a `Result` for people: the check run's summary and text, the CLI, the details page.

Everything comes from the `Result` alone. Logins, branch names, labels and file paths
are chosen by whoever opens the pull request, so every such string is escaped for the
target format: Markdown (no links, images or HTML smuggled into a check run) and HTML.
"""

from __future__ import annotations

import html
import re

from app.policy.result import Approval, Node, Result, Status

MAX_CHECK_OUTPUT = 65_000  # GitHub rejects check-run summaries and texts over 65 535 chars

_ICONS = {Status.PASS: "✅", Status.PENDING: "⏳", Status.FAIL: "❌", Status.SKIP: "⚪"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~@:])")


def md(text: str) -> str:
    """Escape `text` so Markdown shows it literally, on one line: HTML's characters become
    entities (GitHub renders HTML inside Markdown), Markdown's are backslash-escaped."""
    flat = " ".join(str(text).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _truncate(text: str, limit: int, note: str) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(note) - 1]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return f"{cut}\n{note}"


def _pending(result: Result) -> list[Node]:
    return [node for node in result.root.children if node.status in (Status.PENDING, Status.FAIL)]


def _approval_md(approval: Approval) -> str:
    icon, mark = ("✅", "counted") if approval.counted else ("✖️", "ignored")
    return f"- {icon} {md(approval.login)} ({mark}): {md(approval.reason)}"


def check_summary(result: Result, details_url: str) -> str:
    """The check run's summary: what blocks, approvals counted and ignored with reasons,
    who can unblock, why this is agent work, and the policy's source (≤ 65 000 chars)."""
    lines = [f"## {_ICONS[result.root.status]} {md(result.title)}", ""]
    failed = result.root.status is Status.FAIL
    blocking = [result.root] if failed else _pending(result)
    for node in blocking:
        lines.append(f"**{md(node.name)}**: {md(node.description)}")
        if node.unblock:
            lines.append(f"  \n**Who can unblock**: {md(node.unblock)}")
        lines.append("")
        lines.extend(f"- {md(child.name)}: {md(child.description)}" for child in node.children)
        if node.children:
            lines.append("")
    rules = [] if failed else [node for node in result.root.children if node not in blocking]
    if rules:
        lines += ["| rule | status | detail |", "| --- | --- | --- |"]
        for node in rules:
            lines.append(f"| {md(node.name)} | {_ICONS[node.status]} | {md(node.description)} |")
        lines.append("")
    reviewed = [node for node in result.root.children if node.approvals]
    for node in reviewed:
        lines.append(f"**Reviews considered by {md(node.name)}**")
        lines.extend(_approval_md(approval) for approval in node.approvals)
        lines.append("")
    if result.agent_reasons:
        lines.append("**Agent involvement**")
        lines.extend(f"- {md(reason)}" for reason in result.agent_reasons)
        lines.append("")
    footer = f"Policy: {md(result.policy_source or 'unknown')}"
    if result.head_sha:
        footer += f" · head {md(result.head_sha[:7])}"
    if details_url:
        footer += f" · [full decision tree]({_url(details_url)})"
    lines.append(footer)
    note = f"*(truncated: the full decision tree is at {_url(details_url)})*"
    return _truncate("\n".join(lines), MAX_CHECK_OUTPUT, note)


def _url(url: str) -> str:
    """A link target: the app builds details URLs itself, but keep them from closing the link."""
    return url.replace(" ", "%20").replace(")", "%29").replace("(", "%28")


def check_text(result: Result) -> str:
    """The check run's text: the whole decision tree as a Markdown list."""
    lines: list[str] = []

    def walk(node: Node, depth: int) -> None:
        pad = "  " * depth
        icon = _ICONS[node.status]
        lines.append(f"{pad}- {icon} **{md(node.name)}** ({node.status}): {md(node.description)}")
        if node.unblock:
            lines.append(f"{pad}  - who can unblock: {md(node.unblock)}")
        for approval in node.approvals:
            lines.append(f"{pad}  {_approval_md(approval)}")
        for child in node.children:
            walk(child, depth + 1)

    walk(result.root, 0)
    if result.agent_reasons:
        lines += ["", "**Agent involvement**"]
        lines.extend(f"- {md(reason)}" for reason in result.agent_reasons)
    return _truncate("\n".join(lines), MAX_CHECK_OUTPUT, "*(truncated)*")


def plain_text(result: Result) -> str:
    """The decision tree as plain text, for the command line."""
    lines = [f"{result.conclusion}: {result.title}"]
    lines.append(f"policy: {result.policy_source or 'unknown'}  head: {result.head_sha[:7]}")
    if result.agent_reasons:
        lines.append("agent involvement:")
        lines.extend(f"  - {reason}" for reason in result.agent_reasons)

    def walk(node: Node, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}[{node.status}] {node.name}: {node.description}")
        for approval in node.approvals:
            mark = "+" if approval.counted else "-"
            lines.append(f"{pad}    {mark} {approval.login}: {approval.reason}")
        if node.unblock:
            lines.append(f"{pad}    who can unblock: {node.unblock}")
        for child in node.children:
            walk(child, depth + 1)

    walk(result.root, 0)
    return "\n".join(_printable(line) for line in lines)


def _printable(text: str) -> str:
    """Drop control characters (terminal escapes) from text an attacker may have chosen."""
    return "".join(ch for ch in text if ch.isprintable() or ch == " ")


def html_tree(result: Result) -> str:
    """An HTML fragment of the decision tree for the details page; everything escaped."""
    esc = html.escape
    parts = [
        f'<section class="foureyes-result conclusion-{esc(str(result.conclusion))}">',
        f"<h2>{esc(result.title)}</h2>",
        f"<p>Policy: <code>{esc(result.policy_source or 'unknown')}</code>"
        f" · head <code>{esc(result.head_sha[:7])}</code></p>",
    ]
    if result.agent_reasons:
        parts.append("<h3>Agent involvement</h3><ul>")
        parts.extend(f"<li>{esc(reason)}</li>" for reason in result.agent_reasons)
        parts.append("</ul>")

    def walk(node: Node) -> None:
        parts.append(f'<li class="status-{esc(str(node.status))}">')
        parts.append(
            f'<span class="status">{esc(str(node.status))}</span> '
            f"<strong>{esc(node.name)}</strong>: {esc(node.description)}"
        )
        if node.unblock:
            parts.append(f'<div class="unblock">Who can unblock: {esc(node.unblock)}</div>')
        if node.approvals:
            parts.append('<ul class="approvals">')
            for approval in node.approvals:
                kind = "counted" if approval.counted else "ignored"
                parts.append(
                    f'<li class="{kind}"><code>{esc(approval.login)}</code> ({kind}):'
                    f" {esc(approval.reason)}</li>"
                )
            parts.append("</ul>")
        if node.children:
            parts.append("<ul>")
            for child in node.children:
                walk(child)
            parts.append("</ul>")
        parts.append("</li>")

    parts.append('<ul class="tree">')
    walk(result.root)
    parts.append("</ul></section>")
    return "\n".join(parts)
