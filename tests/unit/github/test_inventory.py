"""The inventory of GitHub calls (`docs/github-calls.yml`) against GitHub and app.yml.

GitHub's REST description (`@octokit/openapi`, extracted into
`app/simulator/fixtures/rest-operations.json` by `scripts/extract_fixtures.py`) says
which method and path exist, whether an installation token may call them, and the App
permission names and levels. It carries no per-endpoint permission: those come from
GitHub's "Permissions required for GitHub Apps" and are checked here to be real names
at real levels, and to match app.yml both ways.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
from pathlib import Path

import httpx
import pytest
import yaml
from githubkit import GitHub

from app.github.inventory import DOC_PATH, INVENTORY_PATH, InventoryError, load, render
from app.manifest import needed_events, needed_permissions
from app.simulator import Simulator
from app.simulator.model import RecordedRequest
from tests.conftest import app_jwt
from tests.github_calls import missing_calls

ROOT = Path(__file__).resolve().parents[3]
EXTRACT = ROOT / "app" / "simulator" / "fixtures" / "rest-operations.json"
REEXTRACT = "run PYTHONPATH=. python scripts/extract_fixtures.py"


@pytest.fixture(scope="module")
def described() -> dict:
    return json.loads(EXTRACT.read_text())


def test_every_rest_call_is_an_operation_of_githubs_description(described):
    inventory = load()
    listed = {f"{c.method} {c.path}" for c in inventory.calls if c.api}
    assert listed == set(described["operations"]), f"the extract is stale: {REEXTRACT}"
    for call in inventory.calls:
        if call.auth == "installation":
            operation = described["operations"][f"{call.method} {call.path}"]
            assert operation["enabledForGitHubApps"], (
                f"{call.label}: GitHub does not accept installation tokens there"
            )


def test_web_endpoints_are_not_rest_operations(described):
    web = [c for c in load().calls if not c.api]
    assert [c.path for c in web] == ["/login/oauth/access_token"]
    assert not any(key.endswith(" /login/oauth/access_token") for key in described["operations"])


def test_every_permission_is_a_github_app_permission_at_a_level_it_has(described):
    inventory = load()
    levels = described["permissions"]
    wanted = [(c.label, p) for c in inventory.calls for p in c.permissions.items()]
    wanted += [(f"brokered {name}", (name, e["level"])) for name, e in inventory.brokered.items()]
    wanted += [
        (f"event {name}", (e["permission"], e["level"])) for name, e in inventory.events.items()
    ]
    for label, (name, level) in wanted:
        assert name in levels, f"{label}: {name!r} is not a GitHub App permission"
        assert level in levels[name], f"{label}: {name} has no level {level!r}"


def test_only_installation_and_user_calls_need_permissions():
    for call in load().calls:
        if call.auth in ("app", "none"):
            assert call.permissions == {}, f"{call.label}: the JWT and no-auth calls need none"


@pytest.mark.parametrize("manifest", ["app.yml", "app/app.yml"])
def test_app_yml_asks_for_exactly_what_the_inventory_needs(manifest):
    asked = needed_permissions(yaml.safe_load((ROOT / manifest).read_text()))
    needed = load().needed_permissions()
    unjustified = {k: v for k, v in asked.items() if needed.get(k) != v}
    lacking = {k: v for k, v in needed.items() if asked.get(k) != v}
    assert unjustified == {}, f"{manifest} asks for more than any call or agent token needs"
    assert lacking == {}, f"{manifest} lacks what the inventory's calls need"


@pytest.mark.parametrize("manifest", ["app.yml", "app/app.yml"])
def test_every_event_app_yml_subscribes_to_is_listed_with_its_permission(manifest):
    events = needed_events(yaml.safe_load((ROOT / manifest).read_text()))
    assert sorted(events) == sorted(load().events)


def test_the_rendered_table_is_up_to_date():
    assert DOC_PATH.read_text() == render(load()), "run python -m app.github.inventory"


def test_the_readme_links_the_inventory():
    assert "(docs/github-calls.md)" in (ROOT / "README.md").read_text()


def test_the_table_says_what_happens_on_every_error_of_every_call():
    text = DOC_PATH.read_text()
    for call in load().calls:
        where = "" if call.api else " (github.com)"
        start = f"| `{call.method} {call.path}`{where} | {call.auth} |"
        row = next(line for line in text.splitlines() if line.startswith(start))
        assert all(call.on_error[status] in row for status in call.on_error), call.label


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"auth": "token"}, "auth 'token' is not one of"),
        ({"method": "FETCH"}, "method 'FETCH' is not one of"),
        ({"permissions": {"checks": "all"}}, "permissions must map names to read|write|admin"),
        ({"on_error": {"404": "dropped"}}, "on_error must say what happens on"),
        ({"callers": []}, "callers must list where the call is made"),
        ({"scope": "repo"}, "unknown keys ['scope']"),
    ],
)
def test_a_malformed_line_is_refused_with_its_fault(tmp_path, change, message):
    data = yaml.safe_load(INVENTORY_PATH.read_text())
    data["calls"][0].update(change)
    path = tmp_path / "calls.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InventoryError, match=message.replace("[", r"\[").replace("|", r"\|")):
        load(path)


def test_a_line_listed_twice_is_refused(tmp_path):
    data = yaml.safe_load(INVENTORY_PATH.read_text())
    data["calls"].append(dict(data["calls"][0]))
    path = tmp_path / "calls.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InventoryError, match="GET /app \\(app\\) is listed twice"):
        load(path)


def app_sources() -> list[Path]:
    files = sorted([*(ROOT / "app").rglob("*.py"), *(ROOT / "workers").rglob("*.py")])
    # The simulator answers GitHub's calls; it makes none.
    return [path for path in files if "simulator" not in path.relative_to(ROOT).parts]


def githubkit_calls(files: list[Path]) -> list[tuple[str, str, str]]:
    """(file:line, method, path) of every `<client>.rest.<namespace>.<operation>(...)`
    in `files`, the endpoint read from githubkit's docstring of the operation."""
    client = GitHub("unused")  # githubkit's namespaces hold only a weak reference
    rest = client.rest
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            func = node.func if isinstance(node, ast.Call) else None
            chain = func.value if isinstance(func, ast.Attribute) else None
            if not (isinstance(chain, ast.Attribute) and isinstance(chain.value, ast.Attribute)):
                continue
            if chain.value.attr != "rest":
                continue
            operation = getattr(getattr(rest, chain.attr), func.attr)
            endpoint = inspect.getdoc(operation).split("\n\n")[1]
            method, route = endpoint.split(" ", 1)
            found.append((f"{path.name}:{node.lineno}", method, route))
    return found


def unlisted(files: list[Path]) -> list[str]:
    inventory = load()
    return [
        f"{where}: {method} {route}"
        for where, method, route in githubkit_calls(files)
        if inventory.find(method, route, None) is None
    ]


def test_every_githubkit_call_in_the_code_is_listed_even_if_no_test_makes_it():
    assert len(githubkit_calls(app_sources())) > 40  # the scan sees them (about 50)
    assert unlisted(app_sources()) == [], "add these calls to docs/github-calls.yml"


def test_a_new_githubkit_call_without_a_line_is_caught(tmp_path):
    source = tmp_path / "cleanup.py"
    source.write_text("def drop(gh, owner, name):\n    gh.rest.repos.delete(owner, name)\n")
    assert unlisted([source]) == ["cleanup.py:2: DELETE /repos/{owner}/{repo}"]


def _as_app(record: RecordedRequest) -> RecordedRequest:
    return dataclasses.replace(record, headers={**record.headers, "user-agent": "foureyes"})


def test_the_simulator_records_the_route_and_auth_of_each_request(simulator, installed):
    seen: list[RecordedRequest] = []
    Simulator.observers.append(seen.append)
    try:
        token = httpx.post(
            f"{simulator.url}/app/installations/{installed.installation_id}/access_tokens",
            headers={"Authorization": f"Bearer {app_jwt(installed)}", "User-Agent": "foureyes"},
        ).json()["token"]
        httpx.get(
            f"{simulator.url}/repos/acme/widgets/issues/1/comments",
            headers={"Authorization": f"token {token}", "User-Agent": "a-test"},
        )
    finally:
        Simulator.observers.remove(seen.append)
    minted, read_issue = seen
    assert (minted.template, minted.auth, minted.status) == (
        "/app/installations/{installation_id}/access_tokens",
        "app",
        201,
    )
    assert (read_issue.template, read_issue.auth) == (
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        "installation",
    )
    # Only the app's own requests count, and a listed one passes.
    assert missing_calls(load(), seen) == []
    # The same comments read by the app would be a call the inventory does not list.
    assert missing_calls(load(), [_as_app(read_issue)]) == [
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments (installation)"
    ]
    # A listed path with the wrong auth kind is not the listed call.
    wrong_auth = dataclasses.replace(_as_app(minted), auth="installation")
    assert missing_calls(load(), [wrong_auth]) == [
        "POST /app/installations/{installation_id}/access_tokens (installation)"
    ]


def test_a_path_no_route_answered_is_matched_on_its_parameters():
    unrouted = RecordedRequest(
        method="GET",
        path="/repos/acme/widgets/collaborators/a/b/permission",
        query={},
        status=404,
        headers={"user-agent": "foureyes"},
        auth="installation",
        scheme="token",
        installation_id=1,
        app_id=1,
    )
    assert missing_calls(load(), [unrouted]) == []
    stray = dataclasses.replace(unrouted, path="/repos/acme/widgets/hooks")
    assert missing_calls(load(), [stray]) == ["GET /repos/acme/widgets/hooks (installation)"]
