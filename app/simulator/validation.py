"""Requests checked against GitHub's REST description before a handler runs.

`fixtures/operations.json` (extracted by `scripts/extract_fixtures.py` from
`@octokit/openapi`) holds, for each path the simulator serves, the methods GitHub has
there and, for each served operation, its parameters and request-body JSON schema. A
request GitHub would refuse is refused here the way GitHub answers it: 404 for a path or
method GitHub does not have, 400 "Problems parsing JSON" for a body that is not JSON,
422 "Validation Failed" with `errors` for a bad query parameter or body. Each refusal is
also a `Refusal` the simulator keeps, so the test that caused it fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match, relevance

from app.simulator.examples import FIXTURES
from app.simulator.http import Call, HttpError, Route

OPERATIONS = "operations.json"
# Served by the simulator but not part of api.github.com's REST description: GitHub
# serves them on github.com (browser flows), so there is no schema to check them with.
NOT_IN_REST: dict[tuple[str, str], str] = {
    ("GET", "/login/oauth/authorize"): "github.com OAuth web flow: the browser's sign-in page",
    ("POST", "/login/oauth/access_token"): "github.com OAuth web flow: code for user token",
    ("POST", "/settings/apps/new"): "github.com manifest flow: the user's app registration form",
    ("POST", "/organizations/{org}/settings/apps/new"): (
        "github.com manifest flow: the organisation's app registration form"
    ),
}
INVALID_JSON = "Problems parsing JSON"
_NOT_COERCED = object()  # a query value that is not of its parameter's type
VALIDATION_FAILED = "Validation Failed"


@dataclass(frozen=True)
class Refusal:
    """One request refused for not being what GitHub accepts."""

    method: str
    path: str
    status: int
    kind: str  # unknown_path | method | not_simulated | query | body | json
    message: str


class Refused(HttpError):
    """An `HttpError` that is a validation refusal (not a state-dependent answer)."""

    def __init__(
        self, status: int, message: str, kind: str, detail: str = "", **extra: Any
    ) -> None:
        super().__init__(status, message, **extra)
        self.kind = kind
        self.detail = detail or message


@dataclass(frozen=True)
class Operation:
    operation_id: str
    path: str  # GitHub's template
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None
    body_required: bool


def shape(template: str) -> str:
    """A template with its parameter names erased: `/a/{x}` and `/a/{y+}` are one path."""
    return re.sub(r"\{\w+\+?\}", "{}", template)


@cache
def _described() -> dict[str, Any]:
    return json.loads((FIXTURES / OPERATIONS).read_text())


@cache
def _by_shape() -> dict[str, tuple[str, dict[str, Any]]]:
    return {shape(path): (path, entry) for path, entry in _described()["paths"].items()}


def github_methods(template: str) -> list[str] | None:
    """The methods GitHub has on the path of this simulator template; None: not described."""
    found = _by_shape().get(shape(template))
    return None if found is None else list(found[1]["methods"])


def operation(route: Route) -> Operation | None:
    """GitHub's operation for a simulator route; None only for the `NOT_IN_REST` routes.

    Raises `LookupError` for any other route without one: a route GitHub does not have
    (or a description not extracted again after adding a route).
    """
    if (route.method, route.template) in NOT_IN_REST:
        return None
    found = _by_shape().get(shape(route.template))
    entry = found[1]["operations"].get(route.method) if found else None
    if found is None or entry is None:
        raise LookupError(
            f"{route.method} {route.template} is not in GitHub's REST description "
            f"(or run scripts/extract_fixtures.py again)"
        )
    return Operation(
        operation_id=entry["operationId"],
        path=found[0],
        parameters=tuple(entry["parameters"]),
        body=entry.get("body"),
        body_required=entry.get("body_required", False),
    )


def resolve(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route serving `method path`; GitHub answers 404 for a path or a method it
    does not have (never 405), and HEAD as GET without the body."""
    wanted = "GET" if method == "HEAD" else method
    matched = [(route, found) for route in routes if (found := route.regex.match(path))]
    for route, found in matched:
        if route.method == wanted:
            return route, found.groupdict()
    if not matched:
        raise Refused(404, "Not Found", "unknown_path", "no such path on api.github.com")
    methods = github_methods(matched[0][0].template) or []
    # GitHub has it but the simulator does not: still a test that cannot be trusted.
    kind = "not_simulated" if wanted in methods else "method"
    raise Refused(404, "Not Found", kind, f"{method} not among GitHub's {methods}")


def validate(operation: Operation | None, call: Call) -> None:
    """Raise `Refused` for a call GitHub would refuse; `None`: a `NOT_IN_REST` route."""
    if operation is None:
        return
    check_path(operation, call.params)
    check_query(operation, call.query)
    check_body(operation, call.method, call.body)


def check_path(operation: Operation, params: dict[str, str]) -> None:
    """GitHub routes `/pulls/abc` nowhere: an integer path parameter that is not one is 404."""
    schemas = {p["name"]: p["schema"] for p in operation.parameters if p["in"] == "path"}
    # The simulator's names may differ from GitHub's (`{environment+}`): pair them by place.
    names = re.findall(r"\{(\w+)\}", operation.path)
    for name, value in zip(names, params.values(), strict=True):
        if schemas.get(name, {}).get("type") == "integer" and not value.isdigit():
            raise Refused(404, "Not Found", "unknown_path", f"path parameter {name}={value!r}")


def check_query(operation: Operation, query: dict[str, str]) -> None:
    for spec in operation.parameters:
        if spec["in"] != "query":
            continue
        name, schema = spec["name"], spec.get("schema", {})
        if name not in query:
            if spec.get("required"):
                raise _invalid("query", "missing_field", name, f"{name} is required")
            continue
        value = _coerce(query[name], schema)
        if value is _NOT_COERCED:
            problem = f"{query[name]!r} is not of type {schema.get('type')!r}"
        else:
            error = best_match(Draft4Validator(schema).iter_errors(value))
            if error is None:
                continue
            problem = error.message
        raise _invalid("query", "invalid", name, f"{name}: {problem}")


def check_body(operation: Operation, method: str, raw: bytes) -> None:
    if method in ("GET", "HEAD", "DELETE") and not raw:
        return
    if not raw.strip():
        if operation.body_required:
            raise _invalid("body", "missing_field", "body", "a request body is required")
        return
    try:
        body = json.loads(raw)
    except ValueError:
        raise Refused(400, INVALID_JSON, "json") from None
    if operation.body is None:
        return
    errors = list(Draft4Validator(operation.body).iter_errors(body))
    if not errors:
        return
    # Not `best_match`: it descends into one `anyOf` branch and names the wrong field.
    error = max(errors, key=relevance)
    field = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        field = ".".join(filter(None, (field, *missing[:1])))
        raise _invalid("body", "missing_field", field, error.message)
    # For `anyOf` (a check run's `status: completed` needs a `conclusion`) every
    # alternative's complaint is the explanation; one branch's alone misleads.
    reasons = [sub.message for sub in error.context] or [error.message]
    raise _invalid("body", "invalid", field or "body", " or ".join(reasons))


def _invalid(kind: str, code: str, field: str, detail: str) -> Refused:
    """GitHub's 422: `errors` names the field and the code (`missing_field`, `invalid`)."""
    error = {"resource": "Request", "field": field, "code": code, "message": detail}
    return Refused(422, VALIDATION_FAILED, kind, f"{kind}: {detail}", errors=[error])


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query string's value as the schema's type, as GitHub reads it."""
    kind = schema.get("type")
    if kind == "integer":
        return int(value) if re.fullmatch(r"-?\d+", value) else _NOT_COERCED
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, _NOT_COERCED)
    return value
