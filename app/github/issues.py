"""Comments on and closing of the issues foureyes opens (escalations, deployment approvals)."""

from __future__ import annotations

from githubkit import GitHub

from app.github.client import github_errors


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
