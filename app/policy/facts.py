"""The frozen snapshot of facts the pure evaluator judges: gathered first, no lazy I/O.

`app/github/gather.py` builds a `PullRequestFacts` from GitHub; tests build them with
`tests/factories.py`. A fact that could not be learned is `None` (unknown), and the
evaluator treats unknown as "not satisfied" (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PERMISSION_ORDER = ("none", "read", "triage", "write", "maintain", "admin")


def permission_at_least(actual: str | None, required: str) -> bool:
    """Is `actual` (a repository role name) at least `required`? Unknown is never enough."""
    if actual not in PERMISSION_ORDER:
        return False
    return PERMISSION_ORDER.index(actual) >= PERMISSION_ORDER.index(required)


@dataclass(frozen=True)
class Account:
    """A GitHub account as seen on a pull request: `type` is GitHub's `User` or `Bot`."""

    login: str
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        return self.type != "User" or self.login.endswith("[bot]")


@dataclass(frozen=True)
class Commit:
    sha: str
    author: Account | None  # the GitHub account linked to the git author, if any
    committer: Account | None  # the GitHub account linked to the git committer, if any
    message: str = ""
    author_identity: str = ""  # the git author as written: "Name <email>"
    committer_identity: str = ""
    trailers: tuple[tuple[str, str], ...] = ()  # the message's `Key: value` lines


@dataclass(frozen=True)
class Requester:
    """A human an agent works for, and how that showed: `source` is a catalogue recipe
    (`assigned`, `review_requested`, `co_author`, `body`), `evidence` the text or act."""

    login: str
    source: str
    evidence: str = ""
    sha: str = ""  # the commit a `co_author` trailer is in


@dataclass(frozen=True)
class Review:
    id: int
    user: Account
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_id: str  # the head commit the review was submitted on
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ReviewerFacts:
    """What GitHub said, at evaluation time, about one reviewer.

    `permission` is the repository role name (read|triage|write|maintain|admin|none);
    `teams` the `org/slug` teams among those the policy names that the user belongs to.
    `None` means the look-up failed: unknown, so never eligible.
    """

    permission: str | None
    teams: frozenset[str] | None = frozenset()


@dataclass(frozen=True)
class AgentLink:
    """The token-broker record behind an agent branch (`agents/<rule>/<token_id>/...`)."""

    token_id: str
    agent: str  # the workload identity: "<issuer> <subject>"
    on_behalf_of: str | None  # the human the agent acts for: never an approver of its PRs
    rule: str = ""


@dataclass(frozen=True)
class Push:
    """GitHub's word on who pushed a commit of the pull request (a push's pusher or
    `sender`, a `synchronize`'s `sender`, an activity's `actor`): never commit metadata."""

    sha: str
    actor: str


@dataclass(frozen=True)
class LiveToken:
    """An agent token foureyes brokered for the repository, live at some time during the
    pull request's life, with a permission that could push (`contents: write`) or open
    and edit pull requests (`pull_requests: write`). On GitHub every such token acts as
    this app's bot: which one acted cannot be told, so each one's human is excluded."""

    token_id: str
    agent: str
    on_behalf_of: str | None
    can_push: bool  # contents: write


@dataclass(frozen=True)
class Dismissal:
    """Who dismissed a review and what it was, as GitHub recorded it (the
    `pull_request_review.dismissed` sender, the `review_dismissed` issue event)."""

    review_id: int
    actors: tuple[Account, ...]  # empty: no record of who dismissed it
    state: str | None = None  # the dismissed review's state (lower case); None: unknown


@dataclass(frozen=True)
class PullRequestFacts:
    repository: str  # owner/repo
    number: int
    author: Account
    head_sha: str
    head_ref: str
    base_ref: str
    title: str = ""
    draft: bool = False
    labels: tuple[str, ...] = ()
    commits: tuple[Commit, ...] = ()
    files: tuple[str, ...] = ()  # paths changed (for renames, both old and new paths)
    reviews: tuple[Review, ...] = ()
    reviewers: dict[str, ReviewerFacts] = field(default_factory=dict)  # by login
    app_bot_login: str = "foureyes[bot]"
    agent_link: AgentLink | None = None
    # False when the commit or file list could not be read completely (e.g. GitHub's
    # 250-commit / 3000-file caps): the evaluator then cannot prove "no agent" or
    # "no path matches" and fails closed.
    complete: bool = True
    now: datetime | None = None
    pushes: tuple[Push, ...] = ()
    # The commits GitHub said nothing about who pushed (neither a webhook nor its activity).
    pushers_unknown: tuple[str, ...] = ()
    live_tokens: tuple[LiveToken, ...] = ()
    # Approvals submitted at or before this moment were given for another base (a
    # retarget, or a force push of the base branch), and `base_change` says which.
    base_since: datetime | None = None
    base_change: str = ""
    dismissals: dict[int, Dismissal] = field(default_factory=dict)  # by review id
    body: str = ""  # the pull request's description, as it reads now
    # Requesters foureyes remembers for this pull request (who an agent assigned or asked
    # to review, as GitHub reported it; names text once carried): only ever added to.
    requesters: tuple[Requester, ...] = ()
