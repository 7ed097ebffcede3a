"""Human decisions bind to server-side state, never to text an agent can edit (invariant 12).

foureyes opens an issue for each escalation and held deployment, and a human decides with
a comment. Every token foureyes brokers acts on GitHub as this app, so the issue's text is
not evidence of what is asked. Two controls bind the decision to the request foureyes
stores instead:

- An approval names the request's digest: `/foureyes approve 3f9a1c2e4b7d`. The digest is
  the SHA-256 of the canonical request as stored server-side (identity, repository,
  permissions, lifetime; or environment, commit and run), shown in the issue and on
  foureyes' own page. A plain `/foureyes approve`, or another digest, is refused with a
  reply saying how to approve; `/foureyes deny` needs none (refusing is always safe).
- The issue still says what foureyes wrote. foureyes keeps the SHA-256 of the title and
  body GitHub stored when it opened the issue, and never edits them afterwards (it only
  comments and closes). At decision time the issue is read again from GitHub and
  compared; and any `issues.edited` delivery for it voids the request at once. A void
  request is denied, with a reply and an audit event: the agent must ask again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from githubkit import GitHub
from sqlalchemy import func, select

from app.github import issues
from app.services import Services

COMMAND = re.compile(r"^/foureyes\s+(approve|deny)(?:\s+(\S+))?\s*$", re.IGNORECASE)
DIGEST_CHARS = 12
EDITED = (
    "this issue was edited after foureyes opened it, so it may no longer say what is "
    "asked; foureyes decides nothing on it"
)


def request_digest(kind: str, fields: Mapping[str, Any]) -> str:
    """The digest a human names to approve: of the request as foureyes stores it."""
    canonical = json.dumps({"kind": kind, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]


SHOWN = re.compile(r"^Request digest: `([0-9a-f]+)`", re.MULTILINE)


def approve_command(digest: str) -> str:
    return f"/foureyes approve {digest}"


def shown_digest(issue_body: str) -> str | None:
    """The digest an approval issue shows, as a human reads it there (the demo does)."""
    match = SHOWN.search(issue_body)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Binding:
    """What a decision on one approval issue is bound to."""

    repository: str
    issue_number: int
    digest: str  # of the request, recomputed from the stored row
    text_sha256: str | None  # of the issue as foureyes opened it; None: not recorded


@dataclass(frozen=True)
class Refusal:
    reason: str
    void: bool  # the issue cannot be trusted: the request is denied, not left pending


def approval_refusal(gh: GitHub, binding: Binding, said_digest: str | None) -> Refusal | None:
    """Why an approval on this issue does not count, or None when it does.

    A plain `/foureyes approve` (the contract's command) counts when the issue still says
    what foureyes wrote; one that names a digest must name the stored request's."""
    if said_digest is not None and said_digest.lower() != binding.digest:
        return Refusal(
            f"`{said_digest[:64]}` is not the digest of this request; read the request "
            "again (foureyes shows its digest in this issue) before approving it",
            void=False,
        )
    if binding.text_sha256 is None:
        return Refusal(
            "foureyes has no record of what it wrote in this issue, so it cannot tell "
            "whether it was edited; the agent must ask again",
            void=True,
        )
    now = issues.current_text_sha256(gh, binding.repository, binding.issue_number)
    if now != binding.text_sha256:
        return Refusal(EDITED, void=True)
    return None


def pending_for_edited_issue(
    payload: dict[str, Any], deps: Services, model: Any
) -> tuple[Any, str] | None:
    """The pending request (an `Escalation` or a `DeploymentReview`: `model`) whose issue an
    `issues.edited` delivery edited, detached, and who edited it; None for any other.

    The repository is matched case-insensitively: GitHub's names are, and an escalation's
    repository is spelled as the agent asked for it."""
    edited = edited_issue(payload)
    if edited is None:
        return None
    repository, number = edited
    with deps.sessions() as session:
        row = session.scalars(
            select(model).where(
                func.lower(model.repository) == repository.lower(),
                model.issue_number == number,
            )
        ).first()
        if row is None or row.status != "pending":
            return None
        session.expunge(row)
    editor = str((payload.get("sender") or {}).get("login") or "someone").replace("`", "")
    return row, editor


def edited_issue(payload: dict[str, Any]) -> tuple[str, int] | None:
    """(repository, issue number) of an `issues.edited` delivery, else None."""
    if payload.get("action") != "edited":
        return None
    repository = (payload.get("repository") or {}).get("full_name")
    number = (payload.get("issue") or {}).get("number")
    if not isinstance(repository, str) or not isinstance(number, int):
        return None
    return repository, number
