"""One-click registration: the setup page, GitHub's manifest flow (the simulator), `.env`."""

from __future__ import annotations

import json
import logging
import os
import stat
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog
import yaml

import app.web.setup as setup_views
from app import create_app
from app.config import Settings
from app.github.client import GitHubApp
from app.manifest import PACKAGE_DIR, load_manifest
from app.simulator.governance import governance
from app.state import SqlState
from app.web.setup import github_web_url, setup_code

FOUREYES_URL = "https://foureyes.example.org"
ENV_KEYS = {"APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"}


class Forms(HTMLParser):
    """The page's forms: action, method and the inputs' values (HTML entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": values.get("action"), "method": values.get("method"), "inputs": {}}
            )
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"][values.get("name")] = values.get("value")


def forms_of(html: str) -> list[dict]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def registration_form(html: str) -> dict:
    """The form that posts the manifest to GitHub (the options form posts to /setup)."""
    [form] = [f for f in forms_of(html) if f["method"] == "post" and f["action"] != "/setup"]
    return form


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


def make_app(simulator, tmp_path: Path, **extra: str):
    settings = Settings.from_mapping(
        {
            "GITHUB_API_URL": simulator.url,
            "FOUREYES_URL": FOUREYES_URL,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(tmp_path / "instance"),
            "FOUREYES_EAGER": "1",
            **extra,
        }
    )
    flask_app = create_app(settings)
    return flask_app


@pytest.fixture
def setup_app(simulator, tmp_path, workdir):
    flask_app = make_app(simulator, tmp_path)
    yield flask_app
    flask_app.extensions["foureyes"].engine.dispose()


def post_to_github(simulator, form: dict) -> tuple[str, str]:
    """What the browser does: post the manifest; GitHub answers with a redirect."""
    response = httpx.post(form["action"], data=form["inputs"], follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    return f"{location.path}?{location.query}", query["code"][0]


def open_setup(client, **options: str):
    """The operator enters the setup code the console printed (`setup.open`)."""
    code = setup_code(client.application.extensions["foureyes"].settings)
    return client.post("/setup", data={"setup_code": code, **options})


def register(simulator, client) -> tuple[httpx.Response, str]:
    """The whole flow; returns the callback's response and the path it was called at."""
    page = open_setup(client)
    callback_path, _ = post_to_github(simulator, registration_form(page.get_data(as_text=True)))
    return client.get(callback_path), callback_path


def test_setup_page_posts_the_manifest_from_app_yml(simulator, setup_app):
    client = setup_app.test_client()
    for path in ("/", "/setup"):
        asked = forms_of(client.get(path).get_data(as_text=True))
        assert [(f["method"], f["action"]) for f in asked] == [("post", "/setup")]
        assert "setup_code" in asked[0]["inputs"]
        response = open_setup(client)
        assert response.status_code == 200
        form = registration_form(response.get_data(as_text=True))
        action = urlsplit(form["action"])
        assert f"{action.scheme}://{action.netloc}" == simulator.url
        assert action.path == "/settings/apps/new"
        state = parse_qs(action.query)["state"][0]
        assert len(state) >= 32
        manifest = json.loads(form["inputs"]["manifest"])
        expected = yaml.safe_load((PACKAGE_DIR.parent / "app.yml").read_text())
        assert manifest["default_permissions"] == expected["default_permissions"]
        assert manifest["default_events"] == expected["default_events"]
        assert manifest["hook_attributes"]["url"] == f"{FOUREYES_URL}/api/github/webhooks"
        assert manifest["redirect_url"] == f"{FOUREYES_URL}/setup/callback"
        assert manifest["setup_url"] == f"{FOUREYES_URL}/setup/installed"
        assert manifest["callback_urls"] == [f"{FOUREYES_URL}/login/callback"]
        assert manifest["public"] is False


def test_setup_page_for_an_organisation_and_a_chosen_name(simulator, setup_app):
    client = setup_app.test_client()
    page = open_setup(client, org="acme", name="foureyes-acme").get_data(as_text=True)
    form = registration_form(page)
    assert urlsplit(form["action"]).path == "/organizations/acme/settings/apps/new"
    assert json.loads(form["inputs"]["manifest"])["name"] == "foureyes-acme"
    assert open_setup(client, org="acme/../x").status_code == 400  # said on the form


@pytest.mark.parametrize(
    ("api", "web"),
    [
        ("https://api.github.com", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com"),
        ("https://api.octocorp.ghe.com", "https://octocorp.ghe.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_github_web_url(api, web):
    assert github_web_url(api) == web


def test_good_callback_writes_env_0600_that_runs_the_app(simulator, setup_app, workdir):
    env = workdir / ".env"
    env.write_text("# mine\nFOUREYES_URL=https://foureyes.example.org\nPRIVATE_KEY_PATH=/old.pem\n")
    env.chmod(0o644)
    response, _ = register(simulator, setup_app.test_client())
    assert response.status_code == 200, response.get_data(as_text=True)

    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    lines = env.read_text().splitlines()
    assert lines[:2] == ["# mine", "FOUREYES_URL=https://foureyes.example.org"]
    assert not any(line.startswith("PRIVATE_KEY_PATH=") for line in lines)
    assert {line.split("=", 1)[0] for line in lines[2:]} == ENV_KEYS

    settings = Settings.from_env({}, env)
    app = simulator.world.app(settings.app_id)
    assert app is not None and app.slug == "foureyes"
    assert app.webhook_url == f"{FOUREYES_URL}/api/github/webhooks"
    assert app.webhook_secret == settings.webhook_secret
    assert settings.github_client_id == app.client_id
    assert settings.github_client_secret == governance(simulator.world).client_secrets[app.id]
    # The key written works: GitHub accepts the app's JWT signed with it.
    github = GitHubApp(
        Settings.from_mapping(
            {
                "APP_ID": str(settings.app_id),
                "PRIVATE_KEY": settings.private_key,
                "GITHUB_API_URL": simulator.url,
            }
        ),
        SqlState(setup_app.extensions["foureyes"].engine),
    )
    assert github.bot_login() == "foureyes[bot]"
    page = response.get_data(as_text=True)
    assert f"{simulator.url}/apps/foureyes/installations/new" in page
    assert "Restart" in page


def test_env_is_created_0600_even_with_a_lax_umask(simulator, setup_app, workdir):
    previous = os.umask(0)
    try:
        response, _ = register(simulator, setup_app.test_client())
    finally:
        os.umask(previous)
    assert response.status_code == 200
    assert stat.S_IMODE(os.stat(workdir / ".env").st_mode) == 0o600


def test_secrets_never_reach_the_logs(simulator, setup_app, workdir, monkeypatch, capfd, caplog):
    captured = structlog.testing.LogCapture()
    monkeypatch.setattr(
        setup_views,
        "log",
        # Every level, whatever an earlier test configured (a CLI command: warnings only).
        structlog.wrap_logger(
            structlog.ReturnLogger(),
            processors=[captured],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        ),
    )
    caplog.set_level("DEBUG")
    response, _ = register(simulator, setup_app.test_client())
    assert response.status_code == 200
    settings = Settings.from_env({}, workdir / ".env")
    assert [entry["event"] for entry in captured.entries] == ["setup.registered"]
    out, err = capfd.readouterr()
    logged = json.dumps(captured.entries, default=str) + out + err + caplog.text
    key_body = settings.private_key.splitlines()[1]
    page = response.get_data(as_text=True)
    for secret in (settings.webhook_secret, settings.github_client_secret, key_body):
        assert secret not in logged
        assert secret not in page


def test_callback_with_a_bad_state_is_refused(simulator, setup_app, workdir):
    client = setup_app.test_client()
    page = open_setup(client).get_data(as_text=True)
    callback_path, code = post_to_github(simulator, registration_form(page))
    forged = client.get(f"/setup/callback?code={code}&state=forged-state-of-an-attacker")
    assert forged.status_code == 403
    # Another browser (no cookie) with the genuine state is refused too.
    assert setup_app.test_client().get(callback_path).status_code == 403
    assert not (workdir / ".env").exists()
    # The code was not spent: this browser still completes the registration.
    assert client.get(callback_path).status_code == 200
    # And the state is single use.
    assert client.get(callback_path).status_code == 403


def test_used_code_is_refused_by_github(simulator, setup_app, workdir):
    client = setup_app.test_client()
    page = open_setup(client).get_data(as_text=True)
    _, code = post_to_github(simulator, registration_form(page))
    httpx.post(f"{simulator.url}/app-manifests/{code}/conversions")  # someone else used it
    state = parse_qs(urlsplit(registration_form(page)["action"]).query)["state"][0]
    response = client.get(f"/setup/callback?code={code}&state={state}")
    assert response.status_code == 502
    assert not (workdir / ".env").exists()


def test_a_second_registration_is_refused_until_restart(simulator, setup_app, workdir):
    client = setup_app.test_client()
    response, _ = register(simulator, client)
    assert response.status_code == 200
    written = (workdir / ".env").read_text()
    page = client.get("/setup").get_data(as_text=True)
    assert "restart" in page and "<form" not in page
    assert (workdir / ".env").read_text() == written


def test_setup_mode_answers_nothing_else(setup_app):
    client = setup_app.test_client()
    webhook = client.post(
        "/api/github/webhooks",
        data=b"{}",
        headers={"X-GitHub-Event": "ping", "X-GitHub-Delivery": "1", "X-Hub-Signature-256": "x"},
    )
    assert webhook.status_code == 401
    tokens = client.post("/api/tokens", json={"repository": "acme/widgets"})
    assert tokens.status_code == 503
    assert tokens.json["error"] == "setup_mode"


def test_setup_pages_are_404_outside_setup_mode(simulator, tmp_path, workdir, app_private_key):
    flask_app = make_app(
        simulator,
        tmp_path,
        APP_ID="1",
        PRIVATE_KEY=app_private_key,
        WEBHOOK_SECRET="not-setup-mode",
    )
    client = flask_app.test_client()
    for path in ("/", "/setup", "/setup?org=acme", "/setup/callback?code=abc&state=def"):
        assert client.get(path).status_code == 404, path
    assert not (workdir / ".env").exists()
    # Where GitHub sends the installer: next steps, harmless in any mode.
    assert client.get("/setup/installed").status_code == 200
    flask_app.extensions["foureyes"].engine.dispose()


def test_packaged_manifest_is_the_repository_one():
    """An installed wheel reads `app/app.yml`: it must be the root `app.yml`."""
    root = (PACKAGE_DIR.parent / "app.yml").read_text()
    assert (PACKAGE_DIR / "app.yml").read_text() == root


def test_manifest_from_the_working_directory_wins(workdir):
    (workdir / "app.yml").write_text("name: my-foureyes\nurl: https://example.org\n")
    assert load_manifest()["name"] == "my-foureyes"


def test_a_bad_organisation_name_is_said_on_the_form_not_as_raw_json(simulator, setup_app):
    response = open_setup(setup_app.test_client(), org="acme/../x")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.content_type.startswith("text/html")
    assert "is not an organisation name" in page
    # The form keeps what was typed; the registration button is for the own account.
    assert 'value="acme/../x"' in page
    assert urlsplit(registration_form(page)["action"]).path == "/settings/apps/new"


def test_the_page_lists_each_permission_with_the_reason_app_yml_gives(simulator, setup_app):
    page = open_setup(setup_app.test_client()).get_data(as_text=True)
    manifest = yaml.safe_load((PACKAGE_DIR.parent / "app.yml").read_text())
    for name, level in manifest["default_permissions"].items():
        assert f"<code>{name}: {level}</code>" in page
    assert "publish the gate&#39;s check run" in page or "publish the gate's check run" in page
    # The app's homepage is this server, not someone else's GitHub account.
    form = registration_form(page)
    assert json.loads(form["inputs"]["manifest"])["url"] == FOUREYES_URL


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("http://localhost:3001", True),
        ("http://127.0.0.1:3000", True),
        ("http://192.168.1.20:3000", True),
        ("https://foureyes.example.org", False),
    ],
)
def test_an_address_github_cannot_reach_is_warned_with_the_ways_out(
    simulator, tmp_path, workdir, url, warned
):
    flask_app = make_app(simulator, tmp_path, FOUREYES_URL=url)
    try:
        page = open_setup(flask_app.test_client()).get_data(as_text=True)
    finally:
        flask_app.extensions["foureyes"].engine.dispose()
    assert ("GitHub cannot reach" in page) is warned
    if warned:
        port = urlsplit(url).port
        assert f"ngrok http {port}" in page and "cloudflared tunnel" in page
