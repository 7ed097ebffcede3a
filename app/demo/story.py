"""The demo's story: an agent, the human it works for, a bot and two maintainers.

Each step acts as the people would (a token request over HTTP, a pull request, reviews,
a push, a comment on GitHub) and then reads what foureyes did: the check run on the
simulated GitHub, the broker's answers, the audit. `Timeline` collects the lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from textwrap import wrap
from typing import Any

import httpx

from app.audit.query import latest
from app.audit.trail import approvals
from app.demo.stack import LocalStack
from app.identity.binding import approve_command, shown_digest
from app.policy.result import Result, Status

REPO = "acme/widgets"
AGENT_SUBJECT = "agent:acme/fixer"
REQUESTER = "alice"  # the human the agent works for
MAINTAINER = "maria"  # write access: approves pull requests
ADMIN = "sam"  # admin: approves escalations
BOT = "renovate[bot]"
POLICY = """\
version: 1
merge:
  rules:
    - name: human review
      require: {{approvals: 1, permission: write}}
deployments:
  production: {{agents: reject}}
  "*": {{agents: require_approval}}
tokens:
  - name: coding agents
    issuer: {issuer}
    subject: "{subject}"
    permissions: {{contents: write, pull_requests: write}}
    max_ttl: 900
escalations:
  approvers: {{permission: admin}}
  ttl: 600
"""


@dataclass
class Timeline:
    echo: Callable[[str], None]
    steps: int = 0
    lines: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        self.steps += 1
        self._out(f"{self.steps:>2}. {text}")

    def detail(self, text: str) -> None:
        self._out(f"      {text}")

    def _out(self, line: str) -> None:
        self.lines.append(line)
        self.echo(line)


def _perms(permissions: dict[str, str]) -> str:
    return ", ".join(f"{name}: {level}" for name, level in sorted(permissions.items()))


class Story:
    def __init__(self, stack: LocalStack, timeline: Timeline) -> None:
        self.stack = stack
        self.sim = stack.sim
        self.out = timeline
        self.http = httpx.Client(base_url=stack.url, timeout=30)
        self.bot_login = f"{self.sim.world.apps[stack.installed.app_id].slug}[bot]"
        self.pull_number = 0

    @property
    def agent(self) -> str:
        return f"{self.stack.issuer.url} {AGENT_SUBJECT}"

    def set_up(self) -> None:
        policy = POLICY.format(issuer=self.stack.issuer.url, subject=AGENT_SUBJECT)
        self.sim.add_repo(
            REPO,
            files={".github/foureyes.yml": policy, "src/widgets.py": "NAMES = ['sprocket']\n"},
        )
        for login, role in ((REQUESTER, "write"), (MAINTAINER, "write"), (ADMIN, "admin")):
            self.sim.set_role(REPO, login, role)
        self.sim.add_user(BOT, "Bot")
        self.sim.set_role(REPO, BOT, "write")

    # -- what foureyes did ---------------------------------------------------------
    def ask_token(self, permissions: dict[str, str], **extra: Any) -> httpx.Response:
        jwt = self.stack.agent_jwt(AGENT_SUBJECT, on_behalf_of=REQUESTER)
        body = {"repository": REPO, "permissions": permissions, "ttl": 900, **extra}
        return self.http.post("/api/tokens", json=body, headers={"Authorization": f"Bearer {jwt}"})

    def check(self, sha: str) -> tuple[str, str]:
        """The gate's check run on `sha`: (conclusion, title)."""
        name = self.stack.settings.check_name
        with self.sim.world.lock:
            runs = [
                r
                for r in self.sim.world.check_runs.values()
                if r.repo.lower() == REPO and r.head_sha == sha and r.name == name
            ]
        if not runs:
            return "missing", "no check run"
        return str(runs[-1].conclusion), str(runs[-1].output.get("title", ""))

    def evaluation(self, number: int) -> Result:
        with self.stack.flask_app.extensions["foureyes"].sessions() as session:
            event = latest(session, type="gate.evaluated", subject=f"{REPO}#{number}")
        if event is None:
            raise RuntimeError(f"no evaluation of {REPO}#{number}")
        return Result.from_dict(event.data["result"])

    def head(self, number: int) -> str:
        with self.sim.world.lock:
            return self.sim.world.repo(REPO).pulls[number].head_sha

    def show_check(self, number: int) -> str:
        sha = self.head(number)
        conclusion, title = self.check(sha)
        name = self.stack.settings.check_name
        self.out.detail(f"check {name} on {sha[:7]}: {conclusion}: {title}")
        return conclusion

    def show_review(self, number: int, login: str) -> None:
        counted, ignored = approvals(self.evaluation(number).to_dict())
        for item in [*counted, *ignored]:
            if item.get("login") == login:
                mark = "counted" if item.get("counted") else "ignored"
                self.out.detail(f"approval by {login} {mark}: {item.get('reason')}")

    # -- the story -----------------------------------------------------------------
    def play(self) -> None:
        self.set_up()
        out = self.out
        wanted = {"contents": "write", "pull_requests": "write"}
        out.step(f"the agent {AGENT_SUBJECT}, working for {REQUESTER}, asks for {_perms(wanted)}")
        answer = self.ask_token(wanted)
        issued = answer.json()
        if answer.status_code != 201:
            raise RuntimeError(f"the broker refused the token: {issued}")
        out.detail(
            f"token {issued['token_id'][:8]} issued for {issued['repository']} until "
            f"{issued['expires_at']}; push to {issued['branch_prefix']}…"
        )

        branch = f"{issued['branch_prefix']}fix-names"
        number = self.sim.open_pull_request(
            REPO,
            author=self.bot_login,
            head_ref=branch,
            title="Fix the widget names",
            files={"src/widgets.py": "NAMES = ['sprocket', 'gear']\n"},
        )
        out.step(f"the agent opens pull request #{number} from {branch}")
        self.show_check(number)
        for node in self.evaluation(number).root.children:
            if node.status is Status.PENDING and node.unblock:
                out.detail(f"who can unblock: {node.unblock}")

        self.sim.review(REPO, number, BOT)
        out.step(f"{BOT} approves")
        self.show_review(number, BOT)
        self.show_check(number)

        self.sim.review(REPO, number, REQUESTER)
        out.step(f"{REQUESTER}, the human the agent works for, approves")
        self.show_review(number, REQUESTER)
        self.show_check(number)

        self.sim.review(REPO, number, MAINTAINER)
        out.step(f"{MAINTAINER} (write access) approves")
        self.show_review(number, MAINTAINER)
        self.show_check(number)

        approved = self.head(number)
        self.sim.push(
            REPO, number, author=self.bot_login, files={"src/extra.py": "print('more')\n"}
        )
        out.step(f"the agent pushes again: head {approved[:7]} -> {self.head(number)[:7]}")
        self.show_check(number)

        self.deploy(branch)
        self.escalate()
        self.pull_number = number

    def deploy(self, branch: str) -> None:
        """The agent's workflow deploys its branch to production: the protection rule
        foureyes answers rejects it (`production: {agents: reject}`)."""
        _, run_id = self.sim.request_deployment(
            REPO, environment="production", creator=self.bot_login, ref=branch
        )
        self.out.step(f"the agent's workflow deploys {branch.rsplit('/', 1)[-1]} to production")
        state = self.sim.deployment_gate(run_id, "production")
        reviews = [r for r in self.sim.deployment_reviews(run_id) if r.state]
        why = reviews[-1].comment if reviews else "no answer"
        # The whole reason, wrapped: it says which agent, branch and commits it found.
        first, *rest = wrap(f"deployment {state}: {why}", 86)
        self.out.detail(first)
        for line in rest:
            self.out.detail(f"  {line}")

    def escalate(self) -> None:
        out = self.out
        wanted = {"contents": "write", "workflows": "write"}
        out.step(f"the agent asks for {_perms(wanted)}: beyond its rule")
        answer = self.ask_token(wanted, task="update the CI workflow")
        body = answer.json()
        if answer.status_code != 403 or body.get("error") != "escalation_required":
            raise RuntimeError(f"expected an escalation, got {answer.status_code} {body}")
        escalation_id = body["escalation"]["id"]
        with self.sim.world.lock:
            issue = max(self.sim.world.repo(REPO).issues.values(), key=lambda i: i.number)
        out.detail(f"403 escalation_required: {body['reason']}")
        out.detail(f"escalation {escalation_id[:8]}: issue #{issue.number} opened: {issue.title}")

        approve = approve_command(shown_digest(issue.body) or "")
        self.sim.comment(REPO, issue.number, ADMIN, approve)
        out.step(f"{ADMIN} (admin) comments {approve} on issue #{issue.number}")
        with self.sim.world.lock:
            state = self.sim.world.repo(REPO).issues[issue.number].state
        out.detail(f"issue #{issue.number} is {state}")

        answer = self.ask_token(wanted, task="update the CI workflow", escalation=escalation_id)
        out.step("the agent asks again with the approved escalation")
        if answer.status_code == 201:
            granted = answer.json()
            out.detail(f"token {granted['token_id'][:8]} issued: {_perms(granted['permissions'])}")
        else:
            out.detail(f"{answer.status_code}: {answer.json().get('reason')}")

        again = self.ask_token(wanted, task="update the CI workflow", escalation=escalation_id)
        out.step("the agent tries to use the escalation a second time")
        out.detail(f"{again.status_code} {again.json().get('error')}: {again.json().get('reason')}")
