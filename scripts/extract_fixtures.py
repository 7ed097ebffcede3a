"""Extract the GitHub examples the simulator builds its responses from.

The sources are GitHub's own descriptions, published on npm as `@octokit/openapi`
(REST examples under `components/examples`) and `@octokit/webhooks-examples`:

    cd /tmp/npmx && npm pack @octokit/openapi @octokit/webhooks-examples
    for f in *.tgz; do mkdir -p "${f%.tgz}" && tar -xzf "$f" -C "${f%.tgz}"; done
    python scripts/extract_fixtures.py --openapi ... --webhooks ...

`operations.json` holds GitHub's description of every operation the simulator serves
(found from its route table): the methods GitHub has on the path, the parameters and the
request body's JSON schema (from the dereferenced description, trimmed to what
validation reads; OpenAPI's `nullable` written as JSON Schema's `"null"` type).

Only one example per name is kept (the first item of a list example), so the fixtures
stay small. `rest-operations.json` holds, for each REST call in `docs/github-calls.yml`,
the description's operation (id, whether GitHub Apps may call it) and GitHub's App
permission names and levels (schema `app-permissions`): the inventory's test checks
against it. Fixtures already in the directory are extracted again, so a later feature
adds its own with `--rest NAME` or `--webhook EVENT.ACTION` without editing this file.
A webhook example that githubkit parses is preferred, and among those app deliveries
(that carry an `installation`); the simulator patches the rest (app, details_url...)
and its tests check that every payload it sends parses.

Every webhook example (all events, all actions, app and repository deliveries alike) is
also written, compact and gzip'd, to `tests/fixtures/webhook-examples.json.gz`: a test
sends each one to the intake and the worker as GitHub would.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from githubkit.webhooks import parse_obj

from app.github.inventory import INVENTORY_PATH
from app.github.inventory import load as load_inventory
from app.simulator.server import load_routes
from app.simulator.validation import NOT_IN_REST, OPERATIONS, shape

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "app" / "simulator" / "fixtures"
# Where `npm pack` + `tar` leave the packages (see above); override with the options.
NPMX = Path("/tmp/npmx")  # noqa: S108 - a developer's scratch folder, read only
DEFAULT_OPENAPI = NPMX / "octokit-openapi-23.0.2/package/generated/api.github.com.json"
DEFAULT_DEREF = DEFAULT_OPENAPI.with_suffix(".deref.json")
DEFAULT_WEBHOOKS = NPMX / "octokit-webhooks-examples-7.6.1/package/api.github.com/index.json"
# Every webhook example, as `[[event, payload], ...]`: the intake and the worker must take
# each one as GitHub sends it (tests/unit/workers/test_webhook_examples.py).
ALL_WEBHOOK_EXAMPLES = ROOT / "tests" / "fixtures" / "webhook-examples.json.gz"

REST = (
    "integration",
    "base-installation",
    "installation",
    "installation-token",
    "repository-paginated-2",
    "full-repository-default-response",
    "content-file-response-if-content-is-a-file",
    "pull-request-simple-items",
    "pull-request",
    "commit-items",
    "diff-entry-items",
    "pull-request-review-items",
    "repository-collaborator-permission-response-if-user-has-admin-permissions",
    "team-membership-response-if-user-is-a-team-maintainer",
    "check-run",
    "issue",
    "issue-comment",
    "public-user-default-response",
    "simple-user",
)

WEBHOOKS = (
    "installation.created",
    "installation.deleted",
    "installation_repositories.added",
    "pull_request.opened",
    "pull_request.synchronize",
    "pull_request.closed",
    "pull_request.reopened",
    "pull_request.labeled",
    "pull_request.unlabeled",
    "pull_request.ready_for_review",
    "pull_request.assigned",
    "pull_request.unassigned",
    "pull_request.review_requested",
    "pull_request_review.submitted",
    "pull_request_review.dismissed",
    "push",
    "issue_comment.created",
    "issues.opened",
    "issues.edited",
    "check_run.rerequested",
    "check_run.requested_action",
    "check_suite.requested",
    "merge_group.checks_requested",
    "workflow_run.requested",
)


def first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def extract_rest(spec: dict[str, Any], name: str) -> Any:
    examples = spec["components"]["examples"]
    if name not in examples:
        raise SystemExit(f"no REST example named {name!r}")
    return first(examples[name]["value"])


# Deliveries the examples package has no example of: another action's example, patched.
# `pull_request.edited` for a retarget carries `changes.base` (GitHub's webhook docs).
DERIVED_WEBHOOKS: dict[str, tuple[str, dict[str, Any]]] = {
    "pull_request.edited": (
        "pull_request.opened",
        {
            "action": "edited",
            "changes": {
                "base": {
                    "ref": {"from": "main"},
                    "sha": {"from": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"},
                }
            },
        },
    ),
}


def extract_webhook(index: list[dict[str, Any]], key: str) -> dict[str, Any]:
    if key in DERIVED_WEBHOOKS:
        source, patch = DERIVED_WEBHOOKS[key]
        example = extract_webhook(index, source)
        return {"action": patch["action"], "changes": patch["changes"]} | {
            name: value for name, value in example.items() if name != "action"
        }
    event, _, action = key.partition(".")
    by_event = {entry["name"]: entry["examples"] for entry in index}
    candidates = [e for e in by_event.get(event, []) if (e.get("action") or "") == action]
    # App deliveries carry the installation; a foureyes handler needs it.
    candidates.sort(key=lambda e: "installation" not in e)
    if not candidates:
        raise SystemExit(f"no webhook example for {key!r}")
    for example in candidates:
        try:
            parse_obj(event, example)
        except Exception:  # noqa: S112 - try the next example
            continue
        return example
    sys.stderr.write(f"{key}: no example parses as is; the simulator must patch it\n")
    return candidates[0]


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head")
# What validation reads of a schema; descriptions, examples and formats are left out.
SCHEMA_KEYS = (
    "type",
    "properties",
    "required",
    "enum",
    "items",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "additionalProperties",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "pattern",
)


def trim(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key in SCHEMA_KEYS:
        if key not in schema:
            continue
        value = schema[key]
        if key == "properties":
            value = {name: trim(sub) for name, sub in value.items()}
        elif key in ("oneOf", "anyOf", "allOf"):
            value = [trim(sub) for sub in value]
        elif key in ("items", "not", "additionalProperties"):
            value = trim(value)
        kept[key] = value
    if schema.get("nullable"):
        if "type" in kept:
            kept["type"] = [kept["type"], "null"]
        if "enum" in kept and None not in kept["enum"]:
            kept["enum"] = [*kept["enum"], None]
    return kept


def extract_route_operations(spec: dict[str, Any]) -> dict[str, Any]:
    """GitHub's operation for each simulator route (see `app/simulator/validation.py`)."""
    by_shape: dict[str, list[str]] = {}
    for path in spec["paths"]:
        by_shape.setdefault(shape(path), []).append(path)
    paths: dict[str, Any] = {}
    for route in load_routes():
        if (route.method, route.template) in NOT_IN_REST:
            continue
        method = route.method.lower()
        found = [p for p in by_shape.get(shape(route.template), []) if method in spec["paths"][p]]
        if len(found) != 1:
            raise SystemExit(f"{route.method} {route.template}: GitHub has {found or 'none'}")
        item = spec["paths"][found[0]]
        operation = item[method]
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        body = operation.get("requestBody", {})
        schema = body.get("content", {}).get("application/json", {}).get("schema")
        entry = paths.setdefault(
            found[0],
            {"methods": sorted(m.upper() for m in item if m in HTTP_METHODS), "operations": {}},
        )
        entry["operations"][route.method] = {
            "operationId": operation["operationId"],
            "parameters": [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "required": p.get("required", False),
                    "schema": trim(p.get("schema", {})),
                }
                for p in parameters
                if p["in"] in ("path", "query")
            ],
            "body": trim(schema) if schema else None,
            "body_required": body.get("required", False),
        }
    return {"source": "@octokit/openapi api.github.com (dereferenced)", "paths": paths}


def extract_operations(spec: dict[str, Any], inventory_path: Path) -> dict[str, Any]:
    """The description's operation of each REST call in the inventory, and the permissions."""
    operations = {}
    for call in load_inventory(inventory_path).calls:
        if not call.api:
            continue
        operation = spec["paths"].get(call.path, {}).get(call.method.lower())
        if operation is None:
            raise SystemExit(f"{call.method} {call.path} is not in GitHub's REST description")
        meta = operation.get("x-github") or {}
        operations[f"{call.method} {call.path}"] = {
            "operationId": operation["operationId"],
            "enabledForGitHubApps": bool(meta.get("enabledForGitHubApps")),
        }
    schema = spec["components"]["schemas"]["app-permissions"]["properties"]
    permissions = {name: prop.get("enum", []) for name, prop in schema.items()}
    return {"operations": operations, "permissions": permissions}


def write(path: Path, value: Any) -> int:
    text = json.dumps(value, indent=1, sort_keys=True) + "\n"
    path.write_text(text)
    return len(text)


def write_all_examples(path: Path, index: list[dict[str, Any]]) -> int:
    """Every example of every event, compact and gzip'd (mtime 0: the same bytes each run)."""
    examples = [[entry["name"], example] for entry in index for example in entry["examples"]]
    text = json.dumps(examples, separators=(",", ":"), sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    return len(examples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openapi", type=Path, default=DEFAULT_OPENAPI)
    parser.add_argument("--openapi-deref", type=Path, default=DEFAULT_DEREF)
    parser.add_argument("--webhooks", type=Path, default=DEFAULT_WEBHOOKS)
    parser.add_argument("--rest", action="append", default=[], help="extra REST example")
    parser.add_argument("--webhook", action="append", default=[], help="extra EVENT.ACTION")
    parser.add_argument("--inventory", type=Path, default=INVENTORY_PATH)
    args = parser.parse_args(argv)

    rest_dir, hook_dir = FIXTURES / "rest", FIXTURES / "webhooks"
    rest_dir.mkdir(parents=True, exist_ok=True)
    hook_dir.mkdir(parents=True, exist_ok=True)
    rest_names = {*REST, *args.rest, *(p.stem for p in rest_dir.glob("*.json"))}
    hook_names = {*WEBHOOKS, *args.webhook, *(p.stem for p in hook_dir.glob("*.json"))}

    spec = json.loads(args.openapi.read_text())
    index = json.loads(args.webhooks.read_text())
    total = 0
    for name in sorted(rest_names):
        total += write(rest_dir / f"{name}.json", extract_rest(spec, name))
    for key in sorted(hook_names):
        total += write(hook_dir / f"{key}.json", extract_webhook(index, key))
    total += write(FIXTURES / "rest-operations.json", extract_operations(spec, args.inventory))
    operations = extract_route_operations(json.loads(args.openapi_deref.read_text()))
    total += write(FIXTURES / OPERATIONS, operations)
    count = write_all_examples(ALL_WEBHOOK_EXAMPLES, index)
    sys.stderr.write(
        f"wrote {len(operations['paths'])} described paths, {len(rest_names)} REST and "
        f"{len(hook_names)} webhook fixtures, {total} bytes; all {count} webhook examples "
        f"to {ALL_WEBHOOK_EXAMPLES.relative_to(ROOT)}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
