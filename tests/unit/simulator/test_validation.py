"""The simulator refuses what GitHub refuses: one wrong request of each kind.

Each request is sent over HTTP with a valid installation token, so only the request's
shape is wrong; each test takes the refusals it caused (`take_refusals`), which would
otherwise fail it at teardown.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import httpx
import pytest
from githubkit import GitHub

from app.simulator import Installed, Simulator, server
from app.simulator.examples import FIXTURES
from app.simulator.server import load_routes
from app.simulator.validation import NOT_IN_REST, OPERATIONS, operation, shape

CHECK_RUNS = "/repos/acme/widgets/check-runs"


@pytest.fixture
def api(simulator: Simulator, installed: Installed, app_github: GitHub) -> Iterator[httpx.Client]:
    minted = app_github.rest.apps.create_installation_access_token(installed.installation_id)
    headers = {"Authorization": f"token {minted.parsed_data.token}"}
    with httpx.Client(base_url=simulator.url, headers=headers) as client:
        yield client


def refused(simulator: Simulator) -> list[tuple[str, int]]:
    return [(r.kind, r.status) for r in simulator.take_refusals()]


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404
    assert response.json() == {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }
    assert "etag" not in response.headers


def assert_validation_failed(response: httpx.Response, field: str, code: str) -> None:
    assert response.status_code == 422
    body = response.json()
    assert (body["message"], body["status"]) == ("Validation Failed", "422")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]


def test_every_route_is_an_operation_of_githubs_rest_description() -> None:
    routes = load_routes()
    described = {
        (route.method, route.template): operation(route)
        for route in routes
        if (route.method, route.template) not in NOT_IN_REST
    }
    assert all(found is not None and found.operation_id for found in described.values())
    assert described[("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")]
    assert {(r.method, r.template) for r in routes} >= set(NOT_IN_REST)


def test_a_route_github_does_not_have_is_refused_at_startup() -> None:
    made_up = next(r for r in load_routes() if r.template == "/repos/{owner}/{repo}/pulls")
    with pytest.raises(LookupError, match="not in GitHub's REST description"):
        operation(dataclasses.replace(made_up, method="DELETE"))


def test_the_extracted_description_holds_only_served_operations() -> None:
    served = {(r.method, shape(r.template)) for r in load_routes()}
    described = {
        (method, shape(path))
        for path, entry in json.loads((FIXTURES / OPERATIONS).read_text())["paths"].items()
        for method in entry["operations"]
    }
    assert described == served - {(m, shape(t)) for m, t in NOT_IN_REST}


def test_a_simulator_with_a_route_github_does_not_have_does_not_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = load_routes()
    made_up = dataclasses.replace(routes[0], method="POST", template="/repos/{owner}/{repo}/vibes")
    monkeypatch.setattr(server, "load_routes", lambda: [*routes, made_up])
    with pytest.raises(LookupError, match=re.escape("POST /repos/{owner}/{repo}/vibes")):
        server.Simulator()


def test_unknown_path_is_404(simulator: Simulator, api: httpx.Client) -> None:
    assert_not_found(api.get("/repos/acme/widgets/no-such-thing"))
    assert refused(simulator) == [("unknown_path", 404)]


def test_trailing_slash_is_404(simulator: Simulator, api: httpx.Client) -> None:
    assert api.get("/repos/acme/widgets/pulls").status_code == 200
    assert_not_found(api.get("/repos/acme/widgets/pulls/"))
    assert refused(simulator) == [("unknown_path", 404)]


def test_wrong_method_on_a_known_path_is_404(simulator: Simulator, api: httpx.Client) -> None:
    assert_not_found(api.delete("/repos/acme/widgets/pulls"))
    assert_not_found(api.put("/app/hook/deliveries"))
    assert refused(simulator) == [("method", 404), ("method", 404)]


def test_a_github_operation_the_simulator_lacks_is_refused_too(
    simulator: Simulator, api: httpx.Client
) -> None:
    assert_not_found(api.patch("/repos/acme/widgets", json={"description": "x"}))
    assert refused(simulator) == [("not_simulated", 404)]


def test_non_numeric_integer_path_parameter_is_404(simulator: Simulator, api: httpx.Client) -> None:
    assert_not_found(api.get("/repos/acme/widgets/pulls/first"))
    assert refused(simulator) == [("unknown_path", 404)]


def test_mistyped_query_parameter_is_422(simulator: Simulator, api: httpx.Client) -> None:
    assert_validation_failed(
        api.get("/repos/acme/widgets/pulls", params={"per_page": "ten"}), "per_page", "invalid"
    )
    assert refused(simulator) == [("query", 422)]


def test_query_parameter_outside_its_enum_is_422(simulator: Simulator, api: httpx.Client) -> None:
    assert_validation_failed(
        api.get("/repos/acme/widgets/pulls", params={"state": "merged"}), "state", "invalid"
    )
    assert refused(simulator) == [("query", 422)]


def test_missing_required_body_field_is_422_and_creates_nothing(
    simulator: Simulator, api: httpx.Client
) -> None:
    before = len(simulator.world.check_runs)
    assert_validation_failed(
        api.post(CHECK_RUNS, json={"name": "foureyes"}), "head_sha", "missing_field"
    )
    assert len(simulator.world.check_runs) == before
    assert refused(simulator) == [("body", 422)]


def test_body_field_of_the_wrong_type_is_422(simulator: Simulator, api: httpx.Client) -> None:
    body = {"name": "foureyes", "head_sha": "a" * 40, "output": "blocked"}
    assert_validation_failed(api.post(CHECK_RUNS, json=body), "output", "invalid")
    assert refused(simulator) == [("body", 422)]


def test_body_field_outside_its_enum_is_422(simulator: Simulator, api: httpx.Client) -> None:
    body = {"name": "foureyes", "head_sha": "a" * 40, "conclusion": "blocked"}
    response = api.post(CHECK_RUNS, json=body)
    assert_validation_failed(response, "conclusion", "invalid")
    assert "'blocked' is not one of" in response.json()["errors"][0]["message"]
    assert refused(simulator) == [("body", 422)]


def test_completed_check_run_without_a_conclusion_is_422(
    simulator: Simulator, api: httpx.Client
) -> None:
    response = api.patch(f"{CHECK_RUNS}/1", json={"status": "completed"})
    assert_validation_failed(response, "body", "invalid")
    assert "'conclusion' is a required property" in response.json()["errors"][0]["message"]
    assert refused(simulator) == [("body", 422)]


def test_malformed_json_is_400(simulator: Simulator, api: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    response = api.post(CHECK_RUNS, content=b'{"name": "foureyes",', headers=headers)
    assert response.status_code == 400
    assert response.json()["message"] == "Problems parsing JSON"
    assert refused(simulator) == [("json", 400)]


def test_authorisation_comes_before_validation(simulator: Simulator, installed: Installed) -> None:
    response = httpx.post(f"{simulator.url}{CHECK_RUNS}", json={})
    assert response.status_code == 401
    assert simulator.refusals == []


def test_a_rule_the_schema_cannot_say_is_refused_by_the_handler_and_recorded(
    simulator: Simulator, api: httpx.Client
) -> None:
    head = api.get("/repos/acme/widgets/branches/main").json()["commit"]["sha"]
    body = {"name": "foureyes", "head_sha": head, "status": "completed"}
    response = api.post(CHECK_RUNS, json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"resource": "CheckRun", "code": "invalid", "field": "conclusion"}
    ]
    assert refused(simulator) == [("body", 422)]


def test_an_answer_about_state_is_not_a_refusal(simulator: Simulator, api: httpx.Client) -> None:
    response = api.post(CHECK_RUNS, json={"name": "foureyes", "head_sha": "f" * 40})
    assert response.status_code == 422
    assert response.json()["message"] == f"No commit found for SHA: {'f' * 40}"
    assert simulator.refusals == []
