"""`foureyes policy ...`: work with policy files from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from app.errors import PolicyError
from app.policy.load import MAX_POLICY_BYTES, load_policy


@click.group()
def policy() -> None:
    """Policy files (.github/foureyes.yml)."""


@policy.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate FILE: print "FILE: valid", or each error as FILE:LINE: key.path: message."""
    name = str(file)
    with file.open("rb") as handle:
        raw = handle.read(MAX_POLICY_BYTES + 1)
    if len(raw) > MAX_POLICY_BYTES:
        _fail([f"{name}: the file is larger than {MAX_POLICY_BYTES} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail([f"{name}: the file is not UTF-8 ({exc.reason} at byte {exc.start})"])
    try:
        load_policy(text, name)
    except PolicyError as exc:
        lines = [_format_error(name, *error) for error in exc.errors]
        _fail(lines or [f"{name}: {exc}"])
    click.echo(f"{name}: valid")


def _format_error(name: str, key_path: str, message: str, line: int | None) -> str:
    where = f"{name}:{line}" if line else name
    return f"{where}: {key_path}: {message}" if key_path else f"{where}: {message}"


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        click.echo(line)
    raise click.exceptions.Exit(1)
