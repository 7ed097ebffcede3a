"""The `foureyes` command follows one set of conventions (issue 15): `-h` and `--help`,
`--version`, help text on every command and option, `--repo` for a repository."""

from __future__ import annotations

from importlib.metadata import version

import click
import pytest
from click.testing import CliRunner

from app.cli import cli


def commands(
    group: click.Group = cli, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


@pytest.mark.parametrize(
    ("path", "command"), commands(), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_and_option_says_what_it_is(path, command) -> None:
    assert command.help, f"foureyes {' '.join(path)} has no description"
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"foureyes {' '.join(path)} {param.opts[0]} has no help text"
            assert "--repository" not in param.opts or "--repo" in param.opts
    result = CliRunner().invoke(cli, [*path, "-h"])
    assert result.exit_code == 0 and result.output.startswith("Usage:")


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert (result.exit_code, result.output) == (0, f"foureyes {version('foureyes')}\n")
