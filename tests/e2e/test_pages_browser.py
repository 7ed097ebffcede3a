"""The details page in a real browser: headless Chromium signs in with the simulated
GitHub, follows the redirects, renders the page and takes its screenshot
(`test-artifacts/details-page.png`, the README's `docs/details-page.png`).

Besides the shared stack (gunicorn, a Celery worker, Redis, the simulator), this module
runs one more gunicorn on the same database and broker with GitHub sign-in and the token
broker turned on, so an agent gets a real token and its pull request is linked to it.
Chromium is Debian's `chromium`; without it the test is skipped (CI installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.demo.issuer import DemoIssuer
from app.demo.story import POLICY
from app.serve import web_command
from app.simulator.routes_oauth import oauth_client, sign_in
from tests.e2e.conftest import (
    Stack,
    free_port,
    start_process,
    stop_process,
    wait_for,
    wait_ready,
)

pytestmark = pytest.mark.e2e

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AGENT = "agent:acme/fixer"
BOT = "renovate[bot]"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (.ci/run installs it)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def browse(*args: str) -> str:
    """Run headless Chromium once, in a fresh profile (so it signs in afresh); stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",  # tests run as root in containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Pages:
    """The extra web process: sign-in and the broker on, sharing the stack's stores."""

    def __init__(self, stack: Stack, issuer: DemoIssuer) -> None:
        self.stack = stack
        self.issuer = issuer
        self.url = f"http://127.0.0.1:{free_port()}"

    def token(self, repo: str, permissions: dict[str, str]) -> dict:
        jwt = self.issuer.token(AGENT, audience=self.url, on_behalf_of="alice")
        answer = httpx.post(
            f"{self.url}/api/tokens",
            json={"repository": repo, "permissions": permissions, "task": "fix the names"},
            headers={"Authorization": f"Bearer {jwt}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def pages(stack: Stack) -> Iterator[Pages]:
    chromium()
    with DemoIssuer() as issuer:
        running = Pages(stack, issuer)
        client_id, client_secret = oauth_client(stack.world, stack.installed.app_id)
        env = {
            **stack.env,
            "FOUREYES_URL": running.url,
            "GITHUB_CLIENT_ID": client_id,
            "GITHUB_CLIENT_SECRET": client_secret,
            "FOUREYES_TRUSTED_ISSUERS": json.dumps([issuer.trusted]),
        }
        port = running.url.rsplit(":", 1)[1]
        process = start_process(
            "pages-web", web_command(f"127.0.0.1:{port}", 1), env, stack.workdir
        )
        try:
            wait_ready(running.url, [process], stack.workdir)
            yield running
        finally:
            stop_process(process)


def agent_repo(stack: Stack, pages: Pages) -> str:
    policy = POLICY.format(issuer=pages.issuer.url, subject=AGENT)
    repo = stack.repo(
        "widgets",
        files={".github/foureyes.yml": policy, "src/widgets.py": "NAMES = ['sprocket']\n"},
        maria="write",
        alice="write",
    )
    stack.simulator.add_user(BOT, "Bot")
    stack.simulator.set_role(repo, BOT, "write")
    return repo


def test_a_maintainer_signs_in_and_reads_the_decision_in_a_browser(stack: Stack, pages: Pages):
    sim = stack.simulator
    repo = agent_repo(stack, pages)
    issued = pages.token(repo, {"contents": "write", "pull_requests": "write"})
    number = sim.open_pull_request(
        repo,
        author="foureyes[bot]",
        head_ref=f"{issued['branch_prefix']}fix-names",
        title="Fix the widget names",
        files={"src/widgets.py": "NAMES = ['sprocket', 'gear']\n"},
    )
    stack.wait_check(repo, stack.head(repo, number), "action_required")
    for reviewer in (BOT, "alice", "maria"):
        sim.review(repo, number, reviewer)
    stack.wait_check(repo, stack.head(repo, number), "success")
    sim.push(repo, number, author="foureyes[bot]", files={"src/extra.py": "print('more')\n"})
    stack.wait_check(repo, stack.head(repo, number), "action_required")
    stack.settle()

    sign_in(sim.world, "maria")
    page = f"{pages.url}/prs/{repo}/{number}"
    dom = browse("--dump-dom", page)
    assert "signed in as <strong>maria</strong>" in dom
    assert "action_required" in dom and "Who can unblock" in dom
    assert "approved an older head" in dom  # maria's approval does not carry to the new head
    assert "is a bot" in dom and "is the human the agent works for" in dom
    assert issued["token_id"] in dom and "alice (may not approve this pull request)" in dom
    assert dom.count("audit #") >= 4  # the token and every evaluation (bursts coalesce)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "details-page.png"
    shot.unlink(missing_ok=True)
    browse(f"--screenshot={shot}", "--window-size=1200,1700", page)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_the_browser_runs_nothing_an_attacker_wrote(stack: Stack, pages: Pages):
    sim = stack.simulator
    repo = agent_repo(stack, pages)
    attacker = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
    issued = pages.token(repo, {"contents": "write"})
    number = sim.open_pull_request(
        repo, author="foureyes[bot]", head_ref=f"{issued['branch_prefix']}x", files={"a": "1"}
    )
    sim.add_user(attacker)
    sim.set_role(repo, attacker, "read")
    sim.review(repo, number, attacker)
    wait_for(
        lambda: attacker in json.dumps(stack.audit(type="gate.evaluated", repository=repo)),
        30,
        "the review to be evaluated",
    )
    sign_in(sim.world, "maria")
    dom = browse("--dump-dom", f"{pages.url}/prs/{repo}/{number}")
    assert f"<title>foureyes: {repo}#{number}</title>" in dom  # the script did not run
    assert "<script>" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    # No GitHub login holds a "/": the reviewer's permission look-up names a path GitHub
    # does not have, answered 404 as GitHub would (the evaluation above came after it).
    refused = sim.take_refusals()
    assert refused and {(r.kind, r.status) for r in refused} == {("unknown_path", 404)}
    assert all(r.path.endswith(f"/collaborators/{attacker}/permission") for r in refused)


def test_a_visitor_who_cannot_read_the_repository_sees_nothing(stack: Stack, pages: Pages):
    sim = stack.simulator
    repo = agent_repo(stack, pages)
    issued = pages.token(repo, {"contents": "write"})
    number = sim.open_pull_request(
        repo, author="foureyes[bot]", head_ref=f"{issued['branch_prefix']}y", files={"b": "1"}
    )
    stack.wait_check(repo, stack.head(repo, number), "action_required")
    sim.add_user("mallory")
    sign_in(sim.world, "mallory")
    dom = browse("--dump-dom", f"{pages.url}/prs/{repo}/{number}")
    assert "mallory cannot read" in dom
    assert issued["token_id"] not in dom and "Decision tree" not in dom
