"""The attacker's seat: foureyes on the local stack (the simulator delivers every webhook
over real HTTP to the app, tasks run in the request), an agent holding a token the
broker issued, and the humans of the repository.

The agent acts only through GitHub's REST API with its installation token (on GitHub
it *is* this app's bot); the humans act through the simulator's story helpers, as they
would in GitHub's web UI.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.demo.stack import LocalStack, local_stack
from app.identity.binding import approve_command, shown_digest
from app.simulator.model import CheckRun

REPO = "acme/widgets"
MAINTAINER = "maria"  # write: the human who reviews
ADMIN = "sam"  # admin
AUTHOR = "hugo"  # write: a human who writes code
POLICY = """\
version: 1
merge:
  rules:
    - name: human review
      require: {{approvals: 1, permission: write}}
tokens:
  - name: coding agents
    issuer: {issuer}
    subject: "agent:acme/*"
    permissions: {{contents: write, pull_requests: write}}
    max_ttl: 900
"""


@dataclass
class Agent:
    """An agent with a brokered token: every call is the app's bot on GitHub."""

    token: str
    token_id: str
    branch_prefix: str
    http: httpx.Client

    def call(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        response = self.http.request(method, f"/repos/{REPO}{path}", json=body or None)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json()

    def create_branch(self, branch: str, sha: str) -> None:
        self.call("POST", "/git/refs", ref=f"refs/heads/{branch}", sha=sha)

    def commit(self, branch: str, path: str, content: str, *, email: str | None = None) -> str:
        """Commit one file to `branch` (PUT contents); `email` as author and committer."""
        body: dict[str, Any] = {
            "message": f"Update {path}",
            "content": base64.b64encode(content.encode()).decode(),
            "branch": branch,
        }
        existing = self.http.get(f"/repos/{REPO}/contents/{path}", params={"ref": branch})
        if existing.status_code == 200:
            body["sha"] = existing.json()["sha"]
        if email:
            person = {"name": email.split("@")[0], "email": email}
            body.update(author=person, committer=person)
        return self.call("PUT", f"/contents/{path}", **body)["commit"]["sha"]

    def open_pull(self, head: str, base: str = "main", title: str = "A small fix") -> int:
        return self.call("POST", "/pulls", title=title, head=head, base=base)["number"]


@dataclass
class Attack:
    stack: LocalStack

    @property
    def sim(self) -> Any:
        return self.stack.sim

    @property
    def bot(self) -> str:
        return f"{self.sim.world.apps[self.stack.installed.app_id].slug}[bot]"

    def agent(self, subject: str, human: str) -> Agent:
        """A token from the broker for `subject`, working on behalf of `human`."""
        jwt = self.stack.agent_jwt(subject, on_behalf_of=human)
        body = {
            "repository": REPO,
            "permissions": {"contents": "write", "pull_requests": "write"},
            "ttl": 900,
        }
        answer = httpx.post(
            f"{self.stack.url}/api/tokens",
            json=body,
            headers={"Authorization": f"Bearer {jwt}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        issued = answer.json()
        http = httpx.Client(
            base_url=self.sim.url,
            headers={
                "Authorization": f"Bearer {issued['token']}",
                "Accept": "application/vnd.github+json",
            },
            timeout=30,
        )
        return Agent(issued["token"], issued["token_id"], issued["branch_prefix"], http)

    def main(self) -> str:
        with self.sim.world.lock:
            return self.sim.world.repo(REPO).branches["main"]

    def head(self, number: int) -> str:
        with self.sim.world.lock:
            return self.sim.world.repo(REPO).pulls[number].head_sha

    def check(self, number: int) -> CheckRun:
        """The gate's check run on the pull request's current head."""
        sha = self.head(number)
        with self.sim.world.lock:
            runs = [
                run
                for run in self.sim.world.check_runs.values()
                if run.head_sha == sha and run.name == self.stack.settings.check_name
            ]
        assert runs, f"no check run on {sha}"
        return runs[-1]

    def summary(self, number: int) -> str:
        """What a maintainer reads on the check run (title, summary and decision tree),
        with the Markdown escapes taken off."""
        run = self.check(number)
        shown = "\n".join(str(run.output.get(key, "")) for key in ("title", "summary", "text"))
        return html.unescape(re.sub(r"\\(.)", r"\1", shown))

    def events(self, type: str) -> list[AuditEvent]:
        with self.stack.flask_app.extensions["foureyes"].sessions() as session:
            query = select(AuditEvent).where(AuditEvent.type == type).order_by(AuditEvent.seq)
            return list(session.scalars(query))

    def approve_deployment(self, login: str) -> None:
        """`login` approves the held deployment on the issue foureyes opened for it."""
        with self.sim.world.lock:
            [issue] = [
                i for i in self.sim.world.repo(REPO).issues.values() if "deploy" in i.title.lower()
            ]
        self.sim.comment(REPO, issue.number, login, approve_command(shown_digest(issue.body) or ""))

    @contextmanager
    def webhooks_lost(self) -> Iterator[None]:
        """GitHub's deliveries fail meanwhile (foureyes down, a network fault)."""
        self.sim.configure_webhook(self.stack.installed.app_id, "http://127.0.0.1:9")
        try:
            yield
        finally:
            self.sim.configure_webhook(self.stack.installed.app_id, self.stack.url)


def set_up(stack: LocalStack, *, policy_in_org: bool = False) -> Attack:
    """The repository, its humans, and a GitHub clock that ticks one second per change, so
    successive changes have distinct times as they would at a human's pace. The policy
    is the repository's, or (`policy_in_org`) the org's `.github` repository's."""
    ticks = itertools.count(1)
    start = datetime.now(UTC).replace(microsecond=0)
    stack.sim.world.now = lambda: start + timedelta(seconds=next(ticks))  # type: ignore[method-assign]
    policy = POLICY.format(issuer=stack.issuer.url)
    files = {"src/app.py": "print(1)\n"}
    if policy_in_org:
        stack.sim.add_repo("acme/.github", files={"foureyes.yml": policy})
    else:
        files[".github/foureyes.yml"] = policy
    stack.sim.add_repo(REPO, files=files)
    for login, role in (
        ("alice", "write"),
        ("bob", "write"),
        (MAINTAINER, "write"),
        (AUTHOR, "write"),
        (ADMIN, "admin"),
    ):
        stack.sim.set_role(REPO, login, role)
    return Attack(stack)


@pytest.fixture
def seat(tmp_path: Path) -> Iterator[Attack]:
    """The attacker's seat on a repository with no policy file anywhere: the built-in
    default, and its agent catalogue, judge (import it into a test module)."""
    with local_stack(tmp_path) as stack:
        attack = set_up(stack)
        attack.sim.push_default_branch(
            REPO, {".github/foureyes.yml": None}, pusher=ADMIN, message="No policy file"
        )
        yield attack


@pytest.fixture
def attack(tmp_path: Path) -> Iterator[Attack]:
    """The attacker's seat on a fresh local stack (import it into a test module)."""
    with local_stack(tmp_path) as stack:
        yield set_up(stack)
