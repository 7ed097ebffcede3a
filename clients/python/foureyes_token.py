"""foureyes_token: turn a workload identity into a short-lived foureyes GitHub token.

Standard library only, one file: copy it next to your agent or `pip install` the tiny
package in this directory. In GitHub Actions the identity is the job's OIDC token
(`permissions: id-token: write`); elsewhere pass a JWT in `FOUREYES_ID_TOKEN`.

    export GH_TOKEN=$(python3 foureyes_token.py request --url https://foureyes.example.org \\
        --repo acme/app --permissions contents:write,pull_requests:write)
    python3 foureyes_token.py revoke TOKEN_ID --url https://foureyes.example.org

From Python: `issued = request_token(url, identity_token(url), body)`, then
`revoke_token(url, identity_token(url), issued["token_id"])`.

Every failure is one line on stderr and exit status 1 (2 for a wrong command line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

TIMEOUT = 30


class TokenError(Exception):
    """The identity token could not be had, or foureyes refused: one line for the user."""


def _call(
    method: str, url: str, bearer: str, body: dict[str, Any] | None = None, scheme: str = "Bearer"
) -> tuple[int, dict[str, Any]]:
    """(status, parsed JSON body or {}) of one HTTP request; TokenError when unreachable."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise TokenError(f"{url} is not an http(s) URL")
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"{scheme} {bearer}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    # The scheme is checked above: no file: or custom-scheme URL reaches urllib.
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TokenError(f"{urllib.parse.urlsplit(url).netloc} is unreachable: {reason}") from exc
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {"reason": raw[:200].decode("utf-8", "replace")}
    return status, parsed if isinstance(parsed, dict) else {}


def identity_token(audience: str, environ: Mapping[str, str] | None = None) -> str:
    """`FOUREYES_ID_TOKEN`, else a fresh GitHub Actions OIDC token for `audience`."""
    env = os.environ if environ is None else environ
    if env.get("FOUREYES_ID_TOKEN", "").strip():
        return env["FOUREYES_ID_TOKEN"].strip()
    request_url = env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not request_url or not request_token:
        raise TokenError(
            "no identity token: set FOUREYES_ID_TOKEN, or run in GitHub Actions with "
            "`permissions: id-token: write`"
        )
    # GitHub's request URL already has a query (`?api-version=2.0`): add to it.
    separator = "&" if "?" in request_url else "?"
    url = f"{request_url}{separator}{urllib.parse.urlencode({'audience': audience})}"
    # Spelled as in GitHub's documentation of the endpoint (`Authorization: bearer ...`).
    status, body = _call("GET", url, request_token, scheme="bearer")
    if status != 200 or not isinstance(body.get("value"), str):
        raise TokenError(f"GitHub Actions' OIDC endpoint answered {status} without a token")
    return body["value"]


def parse_permissions(text: str) -> dict[str, str]:
    """`contents:write,pull_requests:read` -> {"contents": "write", "pull_requests": "read"}."""
    permissions = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, level = item.partition(":")
        if not sep or not name.strip() or not level.strip():
            raise TokenError(f"permission {item!r} is not NAME:read or NAME:write")
        permissions[name.strip()] = level.strip()
    if not permissions:
        raise TokenError("give at least one permission, e.g. contents:write")
    return permissions


def refusal(status: int, body: dict[str, Any]) -> str:
    """foureyes' error answer as one line: what went wrong and what to do."""
    reason = " ".join(str(body.get("reason") or "").split()) or "no reason given"
    error = body.get("error") or "error"
    escalation = body.get("escalation")
    if error == "escalation_required" and isinstance(escalation, dict):
        return (
            f"escalation required: {reason}; a human approves at {escalation.get('url')}, "
            f"then ask again with escalation {escalation.get('id')}"
        )
    return f"{error} ({status}): {reason}"


def request_token(url: str, jwt: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/tokens: the 201 body (`token`, `token_id`, `expires_at`...)."""
    status, answer = _call("POST", f"{url.rstrip('/')}/api/tokens", jwt, body)
    if status != 201 or not isinstance(answer.get("token"), str):
        raise TokenError(refusal(status, answer))
    return answer


def revoke_token(url: str, jwt: str, token_id: str) -> None:
    """DELETE /api/tokens/<token_id>, by the identity the token was issued to."""
    quoted = urllib.parse.quote(token_id, safe="")
    status, answer = _call("DELETE", f"{url.rstrip('/')}/api/tokens/{quoted}", jwt)
    if status != 204:
        raise TokenError(refusal(status, answer))


def github_outputs(issued: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Mask the token in the job's log, then hand it to later steps as step outputs."""
    print(f"::add-mask::{issued['token']}", flush=True)
    outputs = {
        "token": issued["token"],
        "token-id": issued["token_id"],
        "expires-at": issued.get("expires_at", ""),
        "branch-prefix": issued.get("branch_prefix", ""),
    }
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        raise TokenError("GITHUB_OUTPUT is not set: --github runs only inside GitHub Actions")
    with open(path, "a", encoding="utf-8") as out:
        out.writelines(f"{name}={value}\n" for name, value in outputs.items())
    granted = ",".join(f"{k}:{v}" for k, v in sorted(issued.get("permissions", {}).items()))
    print(f"foureyes token {issued['token_id']} for {issued.get('repository')} ({granted}), "
          f"expires {issued.get('expires_at')}")  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foureyes-token", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ask = commands.add_parser("request", help="get a token and print it (or --json, --github)")
    ask.add_argument("--repo", required=True, help="OWNER/REPO the token is for")
    ask.add_argument("--permissions", required=True, help="e.g. contents:write,issues:read")
    ask.add_argument("--ttl", type=int, help="seconds, 60..3600 (capped by the policy)")
    ask.add_argument("--task", default="", help="what the token is for, shown to humans")
    ask.add_argument("--escalation", help="the id of an escalation a human approved")
    ask.add_argument("--url", help="foureyes' URL, also the audience [env FOUREYES_URL]")
    shown = ask.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print the whole answer")
    shown.add_argument("--github", action="store_true", help="mask it; write step outputs")
    drop = commands.add_parser("revoke", help="revoke a token early (same identity)")
    drop.add_argument("token_id", help="the token_id of the answer to `request`")
    drop.add_argument("--url", help="foureyes' URL, also the audience [env FOUREYES_URL]")
    return parser


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    args = _parser().parse_args(argv)
    url = (args.url or env.get("FOUREYES_URL") or "").rstrip("/")
    try:
        if not url:
            raise TokenError("no foureyes URL: pass --url or set FOUREYES_URL")
        if args.command == "revoke":
            revoke_token(url, identity_token(url, env), args.token_id)
            print(f"foureyes token {args.token_id} revoked")
            return 0
        body: dict[str, Any] = {"repository": args.repo, "task": args.task}
        body["permissions"] = parse_permissions(args.permissions)
        if args.ttl is not None:
            body["ttl"] = args.ttl
        if args.escalation:
            body["escalation"] = args.escalation
        issued = request_token(url, identity_token(url, env), body)
        if args.github:
            github_outputs(issued, env)
        else:
            print(json.dumps(issued, indent=2) if args.json else issued["token"])
    except TokenError as exc:
        line = f"foureyes: {exc}"
        if env.get("GITHUB_ACTIONS") == "true":
            # A workflow command: `%` would start an escape, so it is escaped itself.
            line = "::error title=foureyes::" + line.replace("%", "%25")
        print(line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
