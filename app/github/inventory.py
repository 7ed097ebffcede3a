"""The inventory of every GitHub call foureyes makes (`docs/github-calls.yml`).

Each line names a call (method, path template, auth kind), the permission GitHub
requires for it and what foureyes does with each error answer. The test session
matches every request the app sent to the simulator against it (`tests/github_calls.py`);
unit tests match every githubkit REST call in the code against it and check it against
GitHub's REST description and `app.yml`; `python -m app.github.inventory` renders
`docs/github-calls.md` from it.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.manifest import PERMISSION_LEVELS

ROOT = Path(__file__).resolve().parent.parent.parent
INVENTORY_PATH = ROOT / "docs" / "github-calls.yml"
DOC_PATH = ROOT / "docs" / "github-calls.md"
AUTH_KINDS = ("app", "installation", "user", "none")
ERROR_STATUSES = ("401", "403", "404", "409", "422", "5xx")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
PARAMETER = re.compile(r"\{[^}]*\}")


class InventoryError(ValueError):
    """The inventory file is malformed: the message names the line and the fault."""


@dataclass(frozen=True)
class GitHubCall:
    method: str
    path: str
    auth: str
    permissions: dict[str, str]
    callers: tuple[str, ...]
    on_error: dict[str, str]
    api: bool = True  # False: a github.com web endpoint (OAuth), not the REST API

    @property
    def key(self) -> tuple[str, str, str]:
        return self.method, shape(self.path), self.auth

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} ({self.auth})"


@dataclass(frozen=True)
class Inventory:
    calls: tuple[GitHubCall, ...]
    brokered: dict[str, dict[str, str]]  # permission -> {level, why}
    events: dict[str, dict[str, str]]  # webhook event -> {permission, level} to subscribe

    def find(self, method: str, template: str, auth: str | None) -> GitHubCall | None:
        """The line for a call; `auth` None matches any kind (a refused, anonymous try)."""
        for call in self.calls:
            same_auth = auth is None or call.auth == auth
            if same_auth and call.method == method and shape(call.path) == shape(template):
                return call
        return None

    def find_path(self, method: str, path: str, auth: str | None) -> GitHubCall | None:
        """The line whose template matches a concrete path (for a request no simulator
        route answered). A parameter is one segment; failing that, when the template ends
        in a literal segment that names the endpoint, a parameter may hold a `/`."""
        for loose in (False, True):
            for call in self.calls:
                parts = re.split(f"({PARAMETER.pattern})", call.path)
                if loose and parts[-1] == "":  # ends in a parameter: nothing names it
                    continue
                value = ".+" if loose else "[^/]+"
                pattern = "".join(
                    value if PARAMETER.fullmatch(part) else re.escape(part) for part in parts
                )
                same_auth = auth is None or call.auth == auth
                if same_auth and call.method == method and re.fullmatch(pattern, path):
                    return call
        return None

    def needed_permissions(self) -> dict[str, str]:
        """The highest level of each permission a call, a brokered token or a webhook
        subscription needs."""
        needed: dict[str, str] = {}
        wants = [p for call in self.calls for p in call.permissions.items()]
        wants += [(name, entry["level"]) for name, entry in self.brokered.items()]
        wants += [(entry["permission"], entry["level"]) for entry in self.events.values()]
        for name, level in wants:
            if PERMISSION_LEVELS[level] > PERMISSION_LEVELS.get(needed.get(name, ""), 0):
                needed[name] = level
        return needed


def shape(template: str) -> str:
    """A path template with its parameters unnamed: `/repos/{}/{}`, however they are named
    (the simulator's `{path+}` is GitHub's `{path}`)."""
    return PARAMETER.sub("{}", template.split("?", 1)[0].rstrip("/") or "/")


def _call(index: int, raw: Any) -> GitHubCall:
    where = f"{INVENTORY_PATH.name} call #{index + 1}"
    if not isinstance(raw, dict):
        raise InventoryError(f"{where}: not a mapping")
    unknown = set(raw) - {"method", "path", "auth", "permissions", "callers", "on_error", "api"}
    if unknown:
        raise InventoryError(f"{where}: unknown keys {sorted(unknown)}")
    method, path, auth = raw.get("method"), raw.get("path"), raw.get("auth")
    if method not in METHODS:
        raise InventoryError(f"{where}: method {method!r} is not one of {METHODS}")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InventoryError(f"{where}: path {path!r} must start with /")
    where = f"{where} ({method} {path})"
    if auth not in AUTH_KINDS:
        raise InventoryError(f"{where}: auth {auth!r} is not one of {AUTH_KINDS}")
    permissions = raw.get("permissions")
    if not isinstance(permissions, dict) or any(
        level not in PERMISSION_LEVELS for level in permissions.values()
    ):
        raise InventoryError(f"{where}: permissions must map names to read|write|admin")
    callers = raw.get("callers")
    if not isinstance(callers, list) or not callers:
        raise InventoryError(f"{where}: callers must list where the call is made")
    on_error = raw.get("on_error")
    if not isinstance(on_error, dict) or sorted(on_error) != sorted(ERROR_STATUSES):
        raise InventoryError(f"{where}: on_error must say what happens on {ERROR_STATUSES}")
    return GitHubCall(
        method=method,
        path=path,
        auth=auth,
        permissions={str(k): str(v) for k, v in permissions.items()},
        callers=tuple(str(c) for c in callers),
        on_error={status: str(on_error[status]) for status in ERROR_STATUSES},
        api=bool(raw.get("api", True)),
    )


def load(path: Path = INVENTORY_PATH) -> Inventory:
    """Read and validate the inventory; InventoryError names the first fault."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("calls"), list):
        raise InventoryError(f"{path}: expected a mapping with a `calls` list")
    calls = tuple(_call(index, raw) for index, raw in enumerate(data["calls"]))
    seen: set[tuple[str, str, str]] = set()
    for call in calls:
        if call.key in seen:
            raise InventoryError(f"{path}: {call.label} is listed twice")
        seen.add(call.key)
    brokered = data.get("brokered") or {}
    for name, entry in brokered.items():
        if not isinstance(entry, dict) or entry.get("level") not in PERMISSION_LEVELS:
            raise InventoryError(f"{path}: brokered {name!r} needs a level read|write|admin")
        if not entry.get("why"):
            raise InventoryError(f"{path}: brokered {name!r} needs a `why`")
    events = data.get("events") or {}
    for name, entry in events.items():
        if not isinstance(entry, dict) or entry.get("level") not in PERMISSION_LEVELS:
            raise InventoryError(f"{path}: event {name!r} needs a level read|write|admin")
        if not entry.get("permission"):
            raise InventoryError(f"{path}: event {name!r} needs the `permission` it requires")
    return Inventory(
        calls,
        {str(k): dict(v) for k, v in brokered.items()},
        {str(k): {key: str(value) for key, value in v.items()} for k, v in events.items()},
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(inventory: Inventory) -> str:
    """`docs/github-calls.md`: one table row per call, then the brokered permissions."""
    lines = [
        "# Every GitHub call foureyes makes",
        "",
        "Generated from [`github-calls.yml`](github-calls.yml) by",
        "`python -m app.github.inventory`; do not edit by hand. The test suite fails when the",
        "app's code calls a githubkit REST operation, or the app makes a call during a test",
        "session, that is not listed here; when a listed REST path is not in GitHub's REST",
        "description (`@octokit/openapi`); and when `app.yml` asks for a permission no line",
        "needs or lacks one a line needs.",
        "",
        "Auth: **app** is the app's JWT (`Authorization: Bearer`), **installation** an",
        "installation token, **user** a signed-in user's OAuth token, **none** no credentials.",
        "Errors: *GoneError* drops the work, *TransientError* retries it with backoff, and",
        "*RequestFailed* is an error foureyes does not translate (see the YAML's header).",
        "",
        "| call | auth | permission | used by | "
        + " | ".join(f"on {status}" for status in ERROR_STATUSES)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in ERROR_STATUSES) + " |",
    ]
    for call in inventory.calls:
        permission = ", ".join(f"{k}: {v}" for k, v in call.permissions.items()) or "none"
        where = "" if call.api else " (github.com)"
        cells = [
            f"`{call.method} {call.path}`{where}",
            call.auth,
            permission,
            "<br>".join(call.callers),
            *(call.on_error[status] for status in ERROR_STATUSES),
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines += [
        "",
        "## Permissions handed on to agents",
        "",
        "The token broker mints an agent's token with the permissions its policy grants;",
        "GitHub grants only what the installation holds, so `app.yml` asks for these too.",
        "",
        "| permission | level | why |",
        "| --- | --- | --- |",
    ]
    for name, entry in inventory.brokered.items():
        lines.append(f"| {name} | {entry['level']} | {_cell(entry['why'])} |")
    lines += [
        "",
        "## Webhook events",
        "",
        "GitHub lets an app subscribe to an event only when it holds the event's permission.",
        "",
        "| event | permission |",
        "| --- | --- |",
    ]
    for name, entry in inventory.events.items():
        lines.append(f"| `{name}` | {entry['permission']}: {entry['level']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/github-calls.md")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render(load())
    if args.check:
        if not DOC_PATH.is_file() or DOC_PATH.read_text() != text:
            sys.stderr.write(f"{DOC_PATH} is stale: run python -m app.github.inventory\n")
            return 1
        return 0
    DOC_PATH.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
