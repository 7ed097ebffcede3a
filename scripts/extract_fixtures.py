"""Extract the GitHub examples the simulator builds its responses from.

The sources are GitHub's own descriptions, published on npm as `@octokit/openapi`
(REST examples under `components/examples`) and `@octokit/webhooks-examples`:

    cd /tmp/npmx && npm pack @octokit/openapi @octokit/webhooks-examples
    for f in *.tgz; do mkdir -p "${f%.tgz}" && tar -xzf "$f" -C "${f%.tgz}"; done
    python scripts/extract_fixtures.py --openapi ... --webhooks ...

Only one example per name is kept (the first item of a list example), so the fixtures
stay small. Fixtures already in the directory are extracted again, so a later feature
adds its own with `--rest NAME` or `--webhook EVENT.ACTION` without editing this file.
A webhook example that githubkit parses is preferred, and among those app deliveries
(that carry an `installation`); the simulator patches the rest (app, details_url...)
and its tests check that every payload it sends parses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from githubkit.webhooks import parse_obj

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "app" / "simulator" / "fixtures"
# Where `npm pack` + `tar` leave the packages (see above); override with the options.
NPMX = Path("/tmp/npmx")  # noqa: S108 - a developer's scratch folder, read only
DEFAULT_OPENAPI = NPMX / "octokit-openapi-23.0.2/package/generated/api.github.com.json"
DEFAULT_WEBHOOKS = NPMX / "octokit-webhooks-examples-7.6.1/package/api.github.com/index.json"

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


def extract_webhook(index: list[dict[str, Any]], key: str) -> dict[str, Any]:
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


def write(path: Path, value: Any) -> int:
    text = json.dumps(value, indent=1, sort_keys=True) + "\n"
    path.write_text(text)
    return len(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openapi", type=Path, default=DEFAULT_OPENAPI)
    parser.add_argument("--webhooks", type=Path, default=DEFAULT_WEBHOOKS)
    parser.add_argument("--rest", action="append", default=[], help="extra REST example")
    parser.add_argument("--webhook", action="append", default=[], help="extra EVENT.ACTION")
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
    sys.stderr.write(
        f"wrote {len(rest_names)} REST and {len(hook_names)} webhook fixtures, {total} bytes\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
