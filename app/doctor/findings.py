"""What the doctor found: one finding per repository and problem, with the fix in plain words."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info", "ok"]
# Errors and warnings are problems: they make `foureyes doctor` exit non-zero and are
# what a `config.drift` audit event records. `info` and `ok` explain what was checked.
PROBLEMS = ("error", "warning")
ORDER = {"error": 0, "warning": 1, "info": 2, "ok": 3}
APP_SUBJECT = "(app)"


@dataclass(frozen=True)
class Finding:
    check: str  # required-check | bypass | stale-approvals | environment | policy | ...
    severity: Severity
    message: str
    fix: str = ""

    @property
    def is_problem(self) -> bool:
        return self.severity in PROBLEMS


@dataclass(frozen=True)
class Subject:
    """One repository (or the app itself) and everything found about it."""

    name: str  # owner/repo, or APP_SUBJECT, or `installation <account>`
    installation_id: int | None = None
    default_branch: str | None = None
    findings: tuple[Finding, ...] = ()
    # False when GitHub could not be read: the findings are not the whole truth.
    complete: bool = True

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.is_problem)

    @property
    def ok(self) -> bool:
        return self.complete and not self.problems

    def digest(self) -> str:
        """A fingerprint of the set of problems (order and wording of fixes aside)."""
        keys = sorted({(f.check, f.severity, f.message) for f in self.problems})
        return hashlib.sha256(json.dumps(keys).encode()).hexdigest()


@dataclass(frozen=True)
class Report:
    app_id: int
    check_name: str
    subjects: tuple[Subject, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(subject.ok for subject in self.subjects)

    def to_json(self) -> dict[str, Any]:
        """The `--json` shape: stable keys for machines."""
        counts = {severity: 0 for severity in ORDER}
        for subject in self.subjects:
            for finding in subject.findings:
                counts[finding.severity] += 1
        return {
            "ok": self.ok,
            "app_id": self.app_id,
            "check_name": self.check_name,
            "summary": {
                "subjects": len(self.subjects),
                "errors": counts["error"],
                "warnings": counts["warning"],
            },
            "subjects": [
                {
                    "name": subject.name,
                    "installation_id": subject.installation_id,
                    "default_branch": subject.default_branch,
                    "ok": subject.ok,
                    "complete": subject.complete,
                    "findings": [asdict(f) for f in sorted_findings(subject.findings)],
                }
                for subject in self.subjects
            ],
        }


def sorted_findings(findings: tuple[Finding, ...]) -> list[Finding]:
    return sorted(findings, key=lambda f: ORDER[f.severity])
