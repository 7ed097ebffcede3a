"""The details page: what it shows, who may read it (GitHub sign-in or the admin token),
the session cookie, CSRF on sign-in, and escaping of everything an attacker chooses.

It runs on the demo's in-process stack: the app served on loopback with Celery eager, so
the simulator's webhooks are evaluated before the story step returns, and sign-in goes
through the simulated github.com over real HTTP, as a browser would.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import uuid
import zlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app import create_app
from app.demo.stack import LocalStack, local_stack
from app.demo.story import POLICY
from app.simulator.routes_oauth import sign_in
from app.web.login import configure_sessions, github_web_url, safe_next

AGENT = "agent:acme/page-tests"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with local_stack(tmp_path_factory.mktemp("pages")) as running:
        yield running


@dataclasses.dataclass
class AgentPull:
    repo: str
    number: int
    token_id: str


def agent_pull(stack: LocalStack, *, task: str = "fix the names", title: str = "Fix") -> AgentPull:
    """A private repository where an agent (working for alice) opened a pull request with a
    broker token; maria can write, eve cannot read."""
    repo = f"acme/pages-{uuid.uuid4().hex[:8]}"
    policy = POLICY.format(issuer=stack.issuer.url, subject=AGENT)
    stack.sim.add_repo(repo, files={".github/foureyes.yml": policy, "a.py": "1\n"})
    for login in ("maria", "alice"):
        stack.sim.set_role(repo, login, "write")
    stack.sim.add_user("eve")
    jwt = stack.agent_jwt(AGENT, on_behalf_of="alice")
    answer = httpx.post(
        f"{stack.url}/api/tokens",
        json={"repository": repo, "permissions": {"contents": "write"}, "task": task},
        headers={"Authorization": f"Bearer {jwt}"},
    )
    assert answer.status_code == 201, answer.text
    issued = answer.json()
    number = stack.sim.open_pull_request(
        repo,
        author="foureyes[bot]",
        head_ref=f"{issued['branch_prefix']}work",
        title=title,
        files={"a.py": "2\n"},
    )
    return AgentPull(repo, number, issued["token_id"])


def page_url(stack: LocalStack, pull: AgentPull) -> str:
    return f"{stack.url}/prs/{pull.repo}/{pull.number}"


def browser() -> httpx.Client:
    """Follows redirects and keeps cookies, across foureyes and the simulated github.com."""
    return httpx.Client(follow_redirects=True, timeout=30)


def user_repo_checks(stack: LocalStack, repo: str) -> int:
    return sum(1 for r in stack.sim.requests if r.path == f"/repos/{repo}" and r.auth == "user")


def test_a_reader_signs_in_with_github_and_reads_the_whole_decision(stack):
    pull = agent_pull(stack, task="rename the widgets")
    stack.sim.add_user("renovate[bot]", "Bot")
    stack.sim.review(pull.repo, pull.number, "renovate[bot]")
    stack.sim.review(pull.repo, pull.number, "alice")
    sign_in(stack.sim.world, "maria")
    with browser() as client:
        page = client.get(page_url(stack, pull))
    assert page.status_code == 200
    assert [str(r.url.path) for r in page.history][:2] == ["/prs/" + pull.repo + "/1", "/login"]
    text = page.text
    assert "signed in as <strong>maria</strong>" in text
    assert "action_required" in text and "Who can unblock" in text
    assert "1 more approval" in text
    # Approvals ignored, with the reasons.
    assert "<code>renovate[bot]</code></td><td>ignored</td><td>is a bot" in text
    assert "is the human the agent works for" in text
    # The agent, its token and its human.
    assert AGENT in text and pull.token_id in text
    assert "contents: write" in text and "rename the widgets" in text
    assert "alice (may not approve this pull request)" in text
    # The history: the opening and the two reviews.
    assert text.count("audit #") >= 4  # three evaluations and the token's issue


def test_the_session_cookie_is_httponly_lax_signed_and_holds_no_token_in_clear(stack):
    pull = agent_pull(stack)
    sign_in(stack.sim.world, "maria")
    with browser() as client:
        page = client.get(page_url(stack, pull))
        cookie = client.cookies["foureyes_session"]
    callback = next(r for r in page.history if r.url.path == "/login/callback")
    header = callback.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert "Secure" not in header  # FOUREYES_URL is http here
    # Flask's cookie: [.]PAYLOAD.TIMESTAMP.SIGNATURE, the payload zlib'd when it starts with "."
    payload = cookie.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    session = json.loads(zlib.decompress(raw) if cookie.startswith(".") else raw)
    assert session["login"] == "maria"
    user_tokens = list(stack.sim.world.oauth.user_tokens)
    assert user_tokens and not any(token in json.dumps(session) for token in user_tokens)
    assert "ghu_" not in json.dumps(session)


def test_the_cookie_is_secure_when_foureyes_is_served_over_https(stack):
    flask_app = Flask("probe")
    configure_sessions(
        flask_app, dataclasses.replace(stack.settings, foureyes_url="https://foureyes.example")
    )
    assert flask_app.config["SESSION_COOKIE_SECURE"] is True
    assert flask_app.config["SECRET_KEY"] == stack.flask_app.config["SECRET_KEY"]
    other = Flask("other")
    configure_sessions(other, dataclasses.replace(stack.settings, private_key="another key"))
    assert other.config["SECRET_KEY"] != stack.flask_app.config["SECRET_KEY"]


def test_someone_who_cannot_read_the_repository_is_refused(stack):
    pull = agent_pull(stack)
    sign_in(stack.sim.world, "eve")
    with browser() as client:
        page = client.get(page_url(stack, pull))
    assert page.status_code == 403
    assert "eve cannot read" in page.text
    assert pull.token_id not in page.text and "Decision tree" not in page.text


def test_the_access_check_is_cached_briefly_in_the_session(stack):
    pull = agent_pull(stack)
    sign_in(stack.sim.world, "maria")
    with browser() as client:
        assert client.get(page_url(stack, pull)).status_code == 200
        checks = user_repo_checks(stack, pull.repo)
        assert checks == 1
        assert client.get(page_url(stack, pull)).status_code == 200
        assert user_repo_checks(stack, pull.repo) == checks


def test_a_callback_without_the_state_it_was_given_signs_nobody_in(stack):
    pull = agent_pull(stack)
    sign_in(stack.sim.world, "maria")
    with httpx.Client(timeout=30) as client:
        start = client.get(f"{stack.url}/login", params={"next": f"/prs/{pull.repo}/1"})
        to_github = httpx.get(start.headers["location"])  # the simulated consent
        callback = urlsplit(to_github.headers["location"])
        query = parse_qs(callback.query)
        forged = client.get(
            f"{stack.url}/login/callback", params={"code": query["code"][0], "state": "forged"}
        )
        assert forged.status_code == 400
        # The real state is spent too: replaying the genuine callback does not sign in.
        genuine = client.get(f"{stack.url}/login/callback?{callback.query}")
        assert genuine.status_code == 400
        page = client.get(page_url(stack, pull))
    assert page.status_code == 302 and page.headers["location"].startswith("/login?next=")
    # An attacker's own code, sent to a victim's browser that never started a sign-in.
    with httpx.Client(timeout=30) as victim:
        planted = victim.get(f"{stack.url}/login/callback", params={"code": "x", "state": "y"})
    assert planted.status_code == 400


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_after_signing_in_the_browser_never_leaves_for_another_site(stack, target):
    sign_in(stack.sim.world, "maria")
    with browser() as client:
        final = client.get(f"{stack.url}/login", params={"next": target})
    assert final.history[-1].headers["location"] == "/"
    assert final.url == httpx.URL(f"{stack.url}/")
    assert safe_next(target) == "/"
    assert safe_next("/prs/acme/widgets/1?x=1") == "/prs/acme/widgets/1?x=1"


def test_a_forged_cookie_is_not_a_sign_in(stack):
    pull = agent_pull(stack)
    forger = Flask("forger")
    forger.config["SECRET_KEY"] = "not the derived key"
    serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
    forged = serializer.dumps({"login": "maria", "token": "x", "since": time.time()})
    with httpx.Client(timeout=30, cookies={"foureyes_session": forged}) as client:
        page = client.get(page_url(stack, pull))
    assert page.status_code == 302 and page.headers["location"].startswith("/login")


def test_the_admin_token_reads_any_page_and_a_wrong_one_is_refused(stack):
    pull = agent_pull(stack)
    url = page_url(stack, pull)
    admin = httpx.get(url, headers={"Authorization": f"Bearer {stack.admin_token}"})
    assert admin.status_code == 200 and "read with the admin token" in admin.text
    wrong = httpx.get(url, headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401 and pull.token_id not in wrong.text
    anonymous = httpx.get(url)
    assert anonymous.status_code == 302
    missing = httpx.get(
        f"{stack.url}/prs/{pull.repo}/99",
        headers={"Authorization": f"Bearer {stack.admin_token}"},
    )
    assert missing.status_code == 404 and "No evaluation recorded yet" in missing.text


def test_every_value_an_attacker_chooses_is_escaped(stack):
    script = "<script>alert(1)</script>"
    pull = agent_pull(stack, task=f"<img src=x onerror=alert(2)>{script}", title=script)
    stack.sim.add_user(script)
    stack.sim.set_role(pull.repo, script, "read")
    stack.sim.review(pull.repo, pull.number, script)
    page = httpx.get(
        page_url(stack, pull), headers={"Authorization": f"Bearer {stack.admin_token}"}
    )
    assert page.status_code == 200
    assert "<script>" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    # No GitHub login holds a "/": the approver's permission lookup names a path GitHub
    # does not have, and is answered 404 as GitHub would.
    refused = stack.sim.take_refusals()
    assert refused and {(r.kind, r.status) for r in refused} == {("unknown_path", 404)}
    assert all("/collaborators/<script>alert(1)<" in r.path for r in refused)


def test_without_sign_in_or_admin_token_configured_the_page_is_closed(stack, tmp_path):
    settings = dataclasses.replace(stack.settings, github_client_id=None, admin_token=None)
    closed = create_app(settings)
    try:
        pull = agent_pull(stack)
        answer = closed.test_client().get(f"/prs/{pull.repo}/{pull.number}")
    finally:
        stack.flask_app.extensions["celery"].set_default()
    assert answer.status_code == 403
    assert pull.token_id not in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.org/api/v3", "https://ghe.example.org"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_the_sign_in_site_follows_the_api_url(api, web):
    assert github_web_url(api) == web
