"""The simulated GitHub's state: apps, installations, users, repositories, tokens.

One `World` is shared by the HTTP server's threads and the test (or demo) driving the
story, so every read and write happens under `World.lock` (re-entrant). The git side
(commits, pull requests, reviews, check runs, issues) lives in `app.simulator.repos`.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.simulator import keys
from app.simulator.model import (
    LEVELS,
    ROLES,
    App,
    AppCredentials,
    CheckRun,
    Commit,
    Delivery,
    Installation,
    OAuthState,
    Repo,
    Token,
    User,
)

# What foureyes asks for when registered; tests narrow it with `permissions=`.
DEFAULT_APP_PERMISSIONS = {
    "actions": "write",
    "administration": "read",
    "checks": "write",
    "contents": "write",
    "deployments": "write",
    "issues": "write",
    "members": "read",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
    "workflows": "write",
}
DEFAULT_APP_EVENTS = [
    "check_run",
    "check_suite",
    "deployment_protection_rule",
    "issue_comment",
    "issues",
    "merge_group",
    "pull_request",
    "pull_request_review",
    "push",
    "workflow_run",
]
TOKEN_LIFETIME = timedelta(hours=1)
WebhookBuilder = Callable[[Installation | None], dict[str, Any]]


def blob_sha(content: str) -> str:
    """Git's blob id of `content`, as GitHub reports it for files."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def permits(granted: dict[str, str], wanted: dict[str, str]) -> bool:
    """Whether `granted` covers every permission in `wanted` at its level or above."""
    return all(
        name in granted and LEVELS.get(granted[name], 0) >= LEVELS.get(level, 99)
        for name, level in wanted.items()
    )


class World:
    """Everything the simulated GitHub knows. Mutate under `lock`."""

    def __init__(self, base_url: str = "http://127.0.0.1") -> None:
        self.lock = threading.RLock()
        self.base_url = base_url
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.commits: dict[str, Commit] = {}
        self.teams: dict[str, set[str]] = {}
        self.check_runs: dict[int, CheckRun] = {}
        self.tokens: dict[str, Token] = {}
        self.deliveries: list[Delivery] = []
        # Webhooks a REST call caused (`queue_webhook`), sent once the call is answered.
        self.outbox: list[tuple[str, Repo, WebhookBuilder]] = []
        self.oauth = OAuthState()
        self._ids = itertools.count(1001)

    def queue_webhook(self, event: str, repo: Repo, build: WebhookBuilder) -> None:
        """Send `event` (its payload built per installation) after the REST call that
        caused it: handlers run under the lock, and the app may call back on delivery."""
        with self.lock:
            self.outbox.append((event, repo, build))

    # -- ids and time ----------------------------------------------------------------
    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def new_sha(self, seed: str = "") -> str:
        return hashlib.sha1(f"{self.next_id()}:{seed}".encode(), usedforsecurity=False).hexdigest()

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    # -- users and teams -------------------------------------------------------------
    def add_user(self, login: str, type: str | None = None) -> User:
        """The user `login`, created on first mention (`[bot]` logins are Bots)."""
        with self.lock:
            user = self.users.get(login.lower())
            if user is None:
                kind = type or ("Bot" if login.endswith("[bot]") else "User")
                user = User(login=login, id=self.next_id(), type=kind)
                self.users[login.lower()] = user
            elif type:
                user.type = type
            return user

    def user(self, login: str) -> User | None:
        with self.lock:
            return self.users.get(login.lower())

    def add_team_member(self, team: str, login: str) -> None:
        """Make `login` an active member of `org/slug`."""
        with self.lock:
            self.add_user(login)
            self.teams.setdefault(team.lower(), set()).add(login.lower())

    def is_team_member(self, team: str, login: str) -> bool:
        with self.lock:
            return login.lower() in self.teams.get(team.lower(), set())

    # -- apps and installations ------------------------------------------------------
    def add_app(
        self,
        slug: str = "foureyes",
        *,
        name: str | None = None,
        owner: str = "acme",
        permissions: dict[str, str] | None = None,
        events: Iterable[str] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        private_key: str | None = None,
    ) -> AppCredentials:
        """Register a GitHub App; returns its id and its private key PEM."""
        pem = private_key or keys.private_key_pem()
        with self.lock:
            app_id = self.next_id()
            self.add_user(owner, "Organization")
            self.apps[app_id] = App(
                id=app_id,
                slug=slug,
                name=name or slug,
                owner=owner,
                public_key=keys.public_key_pem(pem),
                permissions=dict(permissions or DEFAULT_APP_PERMISSIONS),
                events=list(DEFAULT_APP_EVENTS if events is None else events),
                client_id=f"Iv1.{secrets.token_hex(8)}",
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                created_at=self.now(),
            )
            self.add_user(f"{slug}[bot]", "Bot")
            return AppCredentials(app_id, pem)

    def app(self, app_id: int) -> App | None:
        with self.lock:
            return self.apps.get(app_id)

    def add_installation(
        self,
        app_id: int,
        account: str,
        repositories: Iterable[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> Installation:
        """Install app `app_id` on `account`: all its repositories, or the `repositories`."""
        with self.lock:
            app = self.apps[app_id]
            if self.user(account) is None:
                self.add_user(account, "Organization")
            selected = None if repositories is None else {r.lower() for r in repositories}
            installation = Installation(
                id=self.next_id(),
                app_id=app_id,
                account=self.users[account.lower()].login,
                repositories=selected,
                permissions=dict(permissions or app.permissions),
                events=list(app.events),
                created_at=self.now(),
            )
            self.installations[installation.id] = installation
            return installation

    def installation_repos(self, installation: Installation) -> list[Repo]:
        with self.lock:
            return [
                repo
                for key, repo in self.repos.items()
                if repo.owner.lower() == installation.account.lower()
                and (installation.repositories is None or key in installation.repositories)
            ]

    def installations_for(self, full_name: str) -> list[Installation]:
        """The installations that can see repository `owner/name`."""
        with self.lock:
            repo = self.repos.get(full_name.lower())
            if repo is None:
                return []
            return [
                i
                for i in self.installations.values()
                if not i.suspended and repo in self.installation_repos(i)
            ]

    # -- repositories ----------------------------------------------------------------
    def add_repo(
        self,
        full_name: str,
        *,
        default_branch: str = "main",
        files: dict[str, str] | None = None,
        private: bool = True,
        org: bool = True,
    ) -> Repo:
        """A repository with one commit holding `files` on `default_branch`."""
        owner, name = full_name.split("/", 1)
        with self.lock:
            if self.user(owner) is None:
                self.add_user(owner, "Organization" if org else "User")
            repo = Repo(
                id=self.next_id(),
                owner=self.users[owner.lower()].login,
                name=name,
                default_branch=default_branch,
                private=private,
                created_at=self.now(),
            )
            self.repos[full_name.lower()] = repo
            root = self.add_commit(None, files or {}, author=None, message="Initial commit")
            repo.branches[default_branch] = root.sha
            return repo

    def repo(self, full_name: str) -> Repo:
        with self.lock:
            try:
                return self.repos[full_name.lower()]
            except KeyError:
                raise LookupError(f"no repository {full_name}") from None

    def set_role(self, full_name: str, login: str, role: str) -> None:
        """Give `login` a collaborator role (read|triage|write|maintain|admin)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        with self.lock:
            self.add_user(login)
            self.repo(full_name).roles[login.lower()] = role

    def role(self, repo: Repo, login: str) -> str | None:
        with self.lock:
            if repo.owner.lower() == login.lower():
                return "admin"
            return repo.roles.get(login.lower())

    def add_commit(
        self,
        parent: str | None,
        files: dict[str, str | None],
        *,
        author: str | None,
        committer: str | None = None,
        message: str = "",
        parents: list[str] | None = None,
        author_identity: tuple[str, str] | None = None,
        committer_identity: tuple[str, str] | None = None,
    ) -> Commit:
        """A commit on top of `parent` changing `files` (a None content deletes)."""
        with self.lock:
            tree = dict(self.commits[parent].tree) if parent else {}
            for path, content in files.items():
                if content is None:
                    tree.pop(path, None)
                else:
                    tree[path] = content
            for login in (author, committer):
                if login:
                    self.add_user(login)
            commit = Commit(
                sha=self.new_sha(message),
                tree=tree,
                parents=parents if parents is not None else ([parent] if parent else []),
                message=message,
                author=author,
                committer=committer or author,
                created_at=self.now(),
                author_identity=author_identity,
                committer_identity=committer_identity or author_identity,
            )
            self.commits[commit.sha] = commit
            return commit

    def resolve(self, repo: Repo, ref: str | None) -> Commit | None:
        """The commit a branch name, `refs/heads/...` or a (full or short) sha names."""
        with self.lock:
            ref = ref or repo.default_branch
            ref = ref.removeprefix("refs/heads/")
            if ref in repo.branches:
                return self.commits[repo.branches[ref]]
            if len(ref) >= 7:
                for sha, commit in self.commits.items():
                    if sha.startswith(ref.lower()):
                        return commit
            return None

    # -- installation tokens ---------------------------------------------------------
    def issue_token(
        self,
        installation_id: int,
        repositories: set[str] | None = None,
        permissions: dict[str, str] | None = None,
    ) -> Token:
        with self.lock:
            installation = self.installations[installation_id]
            token = Token(
                token="ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "b")[:36],
                installation_id=installation_id,
                repositories=repositories,
                permissions=dict(permissions or installation.permissions),
                expires_at=self.now() + TOKEN_LIFETIME,
            )
            self.tokens[token.token] = token
            return token
