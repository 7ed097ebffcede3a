"""`foureyes token`: agents request and release tokens; operators revoke (the kill switch)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from app.identity.client import (
    ClientError,
    identity_token,
    parse_permissions,
    release_token,
    request_token,
)


def _url(url: str | None) -> str:
    return (url or os.environ.get("FOUREYES_URL") or "http://localhost:3000").rstrip("/")


@click.group()
def token() -> None:
    """Short-lived GitHub tokens for agents, and the kill switch."""


@token.command("request")
@click.option("--repo", "repository", required=True, help="OWNER/REPO")
@click.option("--permissions", required=True, help="e.g. contents:write,pull_requests:write")
@click.option("--ttl", type=int, help="seconds, 60..3600 (capped by the policy's max_ttl)")
@click.option("--task", default="", help="what the token is for (shown to humans)")
@click.option("--escalation", help="the id of an approved escalation to use")
@click.option("--url", help="foureyes' URL (also the JWT audience)  [env FOUREYES_URL]")
@click.option(
    "--id-token-file",
    type=click.Path(exists=True, path_type=Path),
    help="A file holding the workload identity JWT (default: FOUREYES_ID_TOKEN, or the "
    "GitHub Actions OIDC token).",
)
@click.option("--json", "as_json", is_flag=True, help="print the whole response")
def request_command(
    repository: str,
    permissions: str,
    ttl: int | None,
    task: str,
    escalation: str | None,
    url: str | None,
    id_token_file: Path | None,
    as_json: bool,
) -> None:
    """Print a token for GH_TOKEN: `export GH_TOKEN=$(foureyes token request ...)`."""
    base = _url(url)
    body: dict[str, object] = {"repository": repository, "task": task}
    try:
        body["permissions"] = parse_permissions(permissions)
        if ttl is not None:
            body["ttl"] = ttl
        if escalation:
            body["escalation"] = escalation
        issued = request_token(base, identity_token(base, id_token_file), body)
    except (ClientError, OSError) as exc:
        answer = exc.answer if isinstance(exc, ClientError) else None
        if as_json:
            # JSON on every path: the broker's answer, or why none came.
            click.echo(json.dumps(answer or {"error": "could_not_run", "reason": str(exc)}))
        else:
            click.echo(f"Error: {exc}", err=True)
        # 1: the broker answered no (a problem found); 2: no answer (could not run).
        raise click.exceptions.Exit(1 if answer else 2) from exc
    click.echo(json.dumps(issued, indent=2) if as_json else issued["token"])


@token.command("release")
@click.argument("token_id")
@click.option("--url", help="foureyes' URL  [env FOUREYES_URL]")
@click.option(
    "--id-token-file",
    type=click.Path(exists=True, path_type=Path),
    help="A file holding the workload identity JWT (default: FOUREYES_ID_TOKEN, or the "
    "GitHub Actions OIDC token).",
)
def release_command(token_id: str, url: str | None, id_token_file: Path | None) -> None:
    """Revoke your own token early (DELETE /api/tokens/TOKEN_ID, same identity)."""
    base = _url(url)
    try:
        release_token(base, identity_token(base, id_token_file), token_id)
    except (ClientError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token {token_id} revoked")


@token.command("revoke")
@click.option("--agent", help="an agent's subject, or '<issuer> <subject>'")
@click.option("--token", "token_id", help="one token id")
@click.option("--all", "everything", is_flag=True, help="every live agent token")
def revoke_command(agent: str | None, token_id: str | None, everything: bool) -> None:
    """The kill switch (operators): revoke live agent tokens at GitHub now."""
    from app import create_app, preflight
    from app.config import Settings
    from app.identity.revoke import live_tokens, mark_due, revoke_token
    from app.services import services

    if sum(bool(x) for x in (agent, token_id, everything)) != 1:
        raise click.UsageError("give exactly one of --agent, --token or --all")
    settings = Settings.from_env()
    preflight.require(settings, preflight.DATABASE, preflight.REDIS, preflight.GITHUB)
    flask_app = create_app(settings)
    failed = 0
    with flask_app.app_context():
        deps = services()
        ids = [token_id] if token_id else live_tokens(deps, None if everything else agent)
        mark_due(deps, ids, "revoked by an operator (kill switch)")
        for each in ids:
            try:
                done = revoke_token(deps, each, "revoked by an operator (kill switch)")
            except Exception as exc:
                failed += 1
                click.echo(f"{each}: not revoked yet ({type(exc).__name__}); the sweep retries")
                continue
            click.echo(f"{each}: {'revoked' if done else 'already revoked or being revoked'}")
    click.echo(f"{len(ids) - failed} of {len(ids)} tokens revoked")
    if failed:
        raise SystemExit(1)
