"""The simulated GitHub's records: plain mutable dataclasses owned by `World`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

ROLES = ("read", "triage", "write", "maintain", "admin")
LEVELS = {"read": 1, "write": 2, "admin": 3}


class AppCredentials(NamedTuple):
    """What `World.add_app` hands back: unpack as `app_id, private_key = ...`."""

    id: int
    private_key: str


class Installed(NamedTuple):
    """What `Simulator.install` hands back: everything the app needs to run."""

    app_id: int
    private_key: str
    installation_id: int
    webhook_secret: str


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # User | Bot | Organization


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: str
    public_key: str
    permissions: dict[str, str]
    events: list[str]
    client_id: str
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    created_at: datetime | None = None

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    # None: every repository of the account ("all"); else the selected full names.
    repositories: set[str] | None
    permissions: dict[str, str]
    events: list[str]
    created_at: datetime
    suspended: bool = False


@dataclass
class Commit:
    sha: str
    tree: dict[str, str]  # path -> content: the whole snapshot, so any ref reads like git
    parents: list[str]
    message: str
    author: str | None  # GitHub login, None for an unlinked e-mail
    committer: str | None
    created_at: datetime
    # The git identities as written ("Name", "email"); None: derived from the login.
    author_identity: tuple[str, str] | None = None
    committer_identity: tuple[str, str] | None = None


@dataclass
class Review:
    id: int
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    commit_id: str
    body: str
    submitted_at: datetime


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str
    author: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str  # the base branch head when the pull request was opened: its merge base
    commits: list[str]
    labels: list[str]
    draft: bool
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    merged: bool = False
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: datetime | None = None
    renames: dict[str, str] = field(default_factory=dict)  # new path -> old path
    reviews: list[Review] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Issue:
    number: int
    id: int
    title: str
    body: str
    author: str
    labels: list[str]
    assignees: list[str]
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None


@dataclass
class CheckRun:
    id: int
    repo: str
    name: str
    head_sha: str
    app_id: int
    status: str
    conclusion: str | None
    output: dict[str, Any]
    details_url: str | None
    external_id: str
    started_at: datetime
    completed_at: datetime | None
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    private: bool
    created_at: datetime
    branches: dict[str, str] = field(default_factory=dict)  # name -> head sha
    roles: dict[str, str] = field(default_factory=dict)  # login -> role
    pulls: dict[int, Pull] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Token:
    token: str = field(repr=False)
    installation_id: int
    repositories: set[str] | None  # None: every repository of the installation
    permissions: dict[str, str]
    expires_at: datetime
    revoked: bool = False


@dataclass
class Delivery:
    """One webhook delivery as GitHub keeps it (for redelivery)."""

    guid: str
    event: str
    action: str | None
    app_id: int | None
    installation_id: int | None
    payload: dict[str, Any]
    status_code: int  # 0 when the app could not be reached
    delivered_at: datetime
    duration: float
    redelivery: bool = False


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: dict[str, str]  # only those of interest; never Authorization
    auth: str  # app | installation | user | none
    scheme: str | None  # the Authorization scheme, lowered: bearer | token | None
    installation_id: int | None
    app_id: int | None
    template: str | None = None  # the route that answered, e.g. `/repos/{owner}/{repo}`


@dataclass
class OAuthState:
    """GitHub's web sign-in for apps (`routes_oauth`): who is signed in to the simulated
    github.com, the apps' client secrets, pending codes and the user tokens handed out."""

    browser_login: str | None = None
    client_secrets: dict[str, str] = field(default_factory=dict, repr=False)  # client id ->
    codes: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # (client, login, uri)
    user_tokens: dict[str, tuple[str, int]] = field(default_factory=dict, repr=False)
