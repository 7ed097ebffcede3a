"""`foureyes policy ...`: work with policy files from the command line."""

from __future__ import annotations

from typing import BinaryIO

import click

from app.errors import PolicyError
from app.policy.lint import floor_errors, subject_glob_warnings
from app.policy.load import MAX_POLICY_BYTES, load_policy
from app.policy.result import observed


@click.group()
def policy() -> None:
    """Policy files (.github/foureyes.yml)."""


@policy.command("check")
@click.argument("files", nargs=-1, required=True, type=click.File("rb"), metavar="FILE...")
def check(files: tuple[BinaryIO, ...]) -> None:
    """Validate each FILE (`-` reads standard input, as a pre-commit hook passes it).

    Prints "FILE: valid" (with any warnings), or each error as FILE:LINE: key.path:
    message. Exit status 1 when any file is invalid.
    """
    invalid = 0
    for handle in files:
        name = str(getattr(handle, "name", "<stdin>"))
        lines = _check_one(name, handle.read(MAX_POLICY_BYTES + 1))
        invalid += bool(lines)
        for line in lines:
            click.echo(line)
    raise click.exceptions.Exit(1 if invalid else 0)


def _check_one(name: str, raw: bytes) -> list[str]:
    """The error lines for one file; empty when it is valid (then its lines are echoed)."""
    if len(raw) > MAX_POLICY_BYTES:
        return [f"{name}: the file is larger than {MAX_POLICY_BYTES} bytes"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"{name}: the file is not UTF-8 ({exc.reason} at byte {exc.start})"]
    try:
        load_policy(text, name)
    except PolicyError as exc:
        return [_format_error(name, *error) for error in exc.errors] or [f"{name}: {exc}"]
    floored = floor_errors(text)
    if floored:
        return [_format_error(name, *error) for error in floored]
    click.echo(f"{name}: valid")
    for warning in subject_glob_warnings(text):
        click.echo(_format_error(name, *warning))
    return []


def _format_error(name: str, key_path: str, message: str, line: int | None) -> str:
    where = f"{name}:{line}" if line else name
    return f"{where}: {key_path}: {message}" if key_path else f"{where}: {message}"


@policy.command("explain")
@click.option("--repo", "repository", required=True, metavar="OWNER/REPO", help="The repository.")
@click.option("--pr", "number", required=True, type=int, help="The pull request number.")
def explain(repository: str, number: int) -> None:
    """Why a pull request passes or blocks, read live from GitHub: the decision tree the
    check run shows. Exit status 0 success (or observe mode's neutral), 1 blocked, 2 could
    not evaluate."""
    from app import preflight
    from app.config import Settings
    from app.errors import FoureyesError
    from app.gate import decide, fetch_pull
    from app.migrate import upgrade
    from app.policy.render import plain_text
    from app.services import build_services

    if repository.count("/") != 1 or not all(repository.split("/")):
        raise click.BadParameter("expected OWNER/REPO", param_hint="--repo")
    try:
        settings = Settings.from_env()
        preflight.require(settings, preflight.DATABASE, preflight.REDIS, preflight.GITHUB)
        deps = build_services(settings)
        # Agent links live in the database: the same one the server writes.
        upgrade(deps.engine, settings.instance_path)
        gh = deps.github.for_installation(deps.github.repository_installation(repository))
        with gh:
            decision = decide(deps, gh, repository, fetch_pull(gh, repository, number))
    except Exception as exc:
        why = str(exc) if isinstance(exc, FoureyesError) else f"{type(exc).__name__}: {exc}"
        click.echo(f"{repository}#{number}: cannot evaluate: {why}", err=True)
        raise click.exceptions.Exit(2) from exc
    result = decision.result
    shown = observed(result) if result.mode == "observe" else result
    click.echo(plain_text(shown))
    raise click.exceptions.Exit(0 if shown.conclusion in ("success", "neutral") else 1)
