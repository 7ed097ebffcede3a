"""The doctor's report as a table for people: one line per repository and finding."""

from __future__ import annotations

import textwrap

from app.doctor.findings import Report, sorted_findings

WIDTH = 100
MARK = {"error": "✗ error", "warning": "! warn", "info": "· info", "ok": "✓ ok"}


def render_table(report: Report, verbose: bool = False) -> str:
    """Problems always; `ok` and `info` lines too when `verbose`, else one `ok` per subject."""
    name_width = min(max((len(s.name) for s in report.subjects), default=10), 40)
    lines = [f"{'REPOSITORY':<{name_width}}  {'STATUS':<8} FINDING"]
    indent = " " * (name_width + 11)
    for subject in report.subjects:
        findings = sorted_findings(subject.findings)
        shown = findings if verbose else [f for f in findings if f.is_problem]
        if not shown:
            shown = [f for f in findings if f.severity == "ok"][:1] or findings[:1]
        for finding in shown:
            message = textwrap.fill(
                finding.message,
                WIDTH,
                initial_indent=f"{subject.name:<{name_width}}  {MARK[finding.severity]:<8} ",
                subsequent_indent=indent,
            )
            lines.append(message)
            if finding.fix and finding.is_problem:
                lines.append(
                    textwrap.fill(
                        finding.fix,
                        WIDTH,
                        initial_indent=f"{indent}fix: ",
                        subsequent_indent=indent + "     ",
                    )
                )
    problems = sum(len(s.problems) for s in report.subjects)
    checked = sum(1 for s in report.subjects if s.default_branch is not None)
    verdict = "the gate is enforced everywhere" if report.ok else f"{problems} problem(s)"
    lines.append("")
    lines.append(
        f"{checked} repositor{'y' if checked == 1 else 'ies'} checked for the check "
        f"'{report.check_name}' of app {report.app_id}: {verdict}"
    )
    return "\n".join(lines)
