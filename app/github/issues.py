"""The issues foureyes opens (escalations, deployment approvals): open, read back, comment,
close. foureyes never edits an issue's title or body after opening it: any edit is
someone else's, and a decision on an edited issue is refused (`app.identity.binding`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from githubkit import GitHub

from app.github.client import github_errors


def text_sha256(title: str, body: str) -> str:
    """The digest of an issue's text as GitHub holds it (title and body, unambiguous)."""
    return hashlib.sha256(f"{len(title)}:{title}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Opened:
    number: int
    text_sha256: str  # of the title and body GitHub stored


def open_issue(gh: GitHub, repository: str, title: str, body: str) -> Opened:
    owner, name = repository.split("/", 1)
    with github_errors():
        issue = gh.rest.issues.create(owner, name, title=title, body=body).json()
    return Opened(int(issue["number"]), text_sha256(issue["title"], issue.get("body") or ""))


def current_text_sha256(gh: GitHub, repository: str, number: int) -> str:
    """The digest of the issue's title and body now, read from GitHub (not from a cache)."""
    owner, name = repository.split("/", 1)
    with github_errors():
        issue = gh.rest.issues.get(owner, name, number).json()
    return text_sha256(issue["title"], issue.get("body") or "")


def comment(gh: GitHub, repository: str, number: int, text: str) -> None:
    owner, name = repository.split("/", 1)
    with github_errors():
        gh.rest.issues.create_comment(owner, name, number, body=text)


def settle(gh: GitHub, repository: str, number: int, text: str, *, approved: bool) -> None:
    """Say the outcome on the issue, then close it (completed, or not planned)."""
    comment(gh, repository, number, text)
    owner, name = repository.split("/", 1)
    with github_errors():
        gh.rest.issues.update(
            owner,
            name,
            number,
            state="closed",
            state_reason="completed" if approved else "not_planned",
        )
