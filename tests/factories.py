"""The one snapshot builder for tests: build `PullRequestFacts` and their parts here, never ad hoc.

The defaults describe a small, complete pull request by a human (`octocat`) with one
commit and no reviews:

    facts = pr_facts(author=account("copilot-swe-agent[bot]", "Bot"))
    facts = with_approvals(facts, "alice", "bob", permission="admin")
    facts = pr_facts(reviews=(review("alice", state="CHANGES_REQUESTED"),),
                     reviewers={"alice": reviewer("write")})
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from app.policy.facts import (
    Account,
    AgentLink,
    Commit,
    LiveToken,
    PullRequestFacts,
    Review,
    ReviewerFacts,
)

HEAD_SHA = "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0"
OLD_SHA = "0f9e8d7c6b5a0f9e8d7c6b5a0f9e8d7c6b5a0f9e"
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
APP_BOT = "foureyes[bot]"

_review_ids = itertools.count(1000)


def account(login: str, type: str | None = None) -> Account:
    """An account; `type` defaults to `Bot` for `...[bot]` logins, else `User`."""
    return Account(login=login, type=type or ("Bot" if login.endswith("[bot]") else "User"))


def commit(
    sha: str = HEAD_SHA,
    author: str | Account | None = "octocat",
    committer: str | Account | None = None,
    message: str = "change",
) -> Commit:
    """A commit; the committer defaults to the author (a plain `git commit`)."""
    author_account = account(author) if isinstance(author, str) else author
    if committer is None:
        committer_account = author_account
    else:
        committer_account = account(committer) if isinstance(committer, str) else committer
    return Commit(sha=sha, author=author_account, committer=committer_account, message=message)


def review(
    login: str,
    state: str = "APPROVED",
    commit: str = HEAD_SHA,
    type: str | None = None,
    id: int | None = None,
) -> Review:
    """A submitted review; ids increase in creation order, as GitHub's do."""
    return Review(
        id=id if id is not None else next(_review_ids),
        user=account(login, type),
        state=state,
        commit_id=commit,
        submitted_at=NOW,
    )


def reviewer(permission: str | None = "write", teams: tuple[str, ...] | None = ()) -> ReviewerFacts:
    """What GitHub says about a reviewer; `None` means the look-up failed."""
    return ReviewerFacts(
        permission=permission, teams=frozenset(teams) if teams is not None else None
    )


def live_token(
    on_behalf_of: str | None = "dana",
    token_id: str = "tok123",  # noqa: S107 - an id, not a secret
    can_push: bool = True,
) -> LiveToken:
    """A brokered token live during the pull request's life (by default `agent_link`'s)."""
    return LiveToken(token_id, agent_link().agent, on_behalf_of, can_push)


def agent_link(
    on_behalf_of: str | None = "dana",
    token_id: str = "tok123",  # noqa: S107 - an id, not a secret
    rule: str = "ci agents",
) -> AgentLink:
    return AgentLink(
        token_id=token_id,
        agent="https://token.actions.githubusercontent.com repo:acme/agents:ref:refs/heads/main",
        on_behalf_of=on_behalf_of,
        rule=rule,
    )


def pr_facts(**overrides: Any) -> PullRequestFacts:
    """A complete pull-request snapshot; keyword arguments replace any field.

    `author` may be given as a login string. When `commits` is not given, there is
    one commit at the head, authored and committed by the author.
    """
    author = overrides.pop("author", "octocat")
    author_account = account(author) if isinstance(author, str) else author
    head_sha = overrides.get("head_sha", HEAD_SHA)
    fields: dict[str, Any] = {
        "repository": "acme/widgets",
        "number": 7,
        "author": author_account,
        "head_sha": head_sha,
        "head_ref": "feature/widgets",
        "base_ref": "main",
        "title": "Add widgets",
        "commits": (commit(head_sha, author=author_account),),
        "files": ("src/widgets.py",),
        "app_bot_login": APP_BOT,
        "now": NOW,
    }
    fields.update(overrides)
    return PullRequestFacts(**fields)


def agent_pr(**overrides: Any) -> PullRequestFacts:
    """A pull request opened by this app's bot for an agent (agent work by every measure
    the built-in policy knows)."""
    overrides.setdefault("author", account(APP_BOT, "Bot"))
    overrides.setdefault("head_ref", "agents/ci-agents/tok123/fix")
    return pr_facts(**overrides)


def with_approvals(
    facts: PullRequestFacts,
    *logins: str,
    permission: str = "write",
    teams: tuple[str, ...] = (),
    commit: str | None = None,
) -> PullRequestFacts:
    """`facts` plus an APPROVED review of `commit` (default: the head) by each login,
    and the reviewers' permission and teams as GitHub would report them."""
    reviews = tuple(review(login, commit=commit or facts.head_sha) for login in logins)
    reviewers = dict(facts.reviewers)
    reviewers.update({login: reviewer(permission, teams) for login in logins})
    return replace(facts, reviews=facts.reviews + reviews, reviewers=reviewers)
