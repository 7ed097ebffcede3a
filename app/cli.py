"""The `foureyes` command."""

from __future__ import annotations

import logging
import os

import click

from app import preflight
from app.audit.cli import audit
from app.config import Settings
from app.demo.cli import demo
from app.doctor.cli import doctor
from app.errors import ConfigError
from app.identity.cli import token
from app.logging import VERBOSE_ENV, configure_logging
from app.policy.agents_cli import agents
from app.policy.cli import policy
from app.replay import replay

DEFAULT_PORT = 3000


class _Commands(click.Group):
    """Every command's configuration problem is `Error: ...` lines and exit status 2,
    however the command is invoked (the console script, or click's test runner)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(preflight.error_text(exc), err=True, nl=False)
            raise click.exceptions.Exit(2) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="foureyes", message="foureyes %(version)s")
@click.option(
    "--verbose",
    is_flag=True,
    help="log the libraries' lines too (HTTP requests, migrations, tasks); also FOUREYES_VERBOSE=1",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """foureyes: a human countersigns every merge, deployment and access widening of agents.

    Exit status, for every command: 0 ok, 1 problems found (a blocked pull request, a
    doctor finding, an invalid policy), 2 could not run (configuration, GitHub or the
    database unreachable, bad arguments).

    Logs go to stderr: human text, warnings only unless --verbose; `serve` logs JSON lines.
    """
    if verbose and os.environ.get(VERBOSE_ENV) != "1":
        # The processes a command starts (serve's web and worker) inherit it.
        os.environ[VERBOSE_ENV] = "1"
        ctx.call_on_close(lambda: os.environ.pop(VERBOSE_ENV, None))
    configure_logging(logging.WARNING, human=True)


@cli.group()
def db() -> None:
    """The audit database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve, the web and the worker also do this on start)."""
    from app.db import make_engine
    from app.migrate import upgrade

    settings = Settings.from_env()
    preflight.require(settings, preflight.DATABASE)
    upgrade(make_engine(settings.database_url), settings.instance_path)
    click.echo("database is at the newest revision")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="port to listen on")
@click.option("--workers", default=2, show_default=True, help="web and worker processes each")
def serve(host: str, port: int, workers: int) -> None:
    """Run web, workers and scheduler on this machine (embedded broker without REDIS_URL)."""
    # serve's console is JSON lines, from the first (importing the server logs already).
    configure_logging()
    from app.serve import serve as run

    settings = Settings.from_env()
    if settings.foureyes_url == Settings.foureyes_url and port != DEFAULT_PORT:
        # FOUREYES_URL is unset: this server's own URL follows --port, in the setup page,
        # the manifest's URLs and the processes serve starts.
        os.environ["FOUREYES_URL"] = f"http://localhost:{port}"
        settings = Settings.from_env()
    raise SystemExit(run(settings, host=host, port=port, workers=workers))


cli.add_command(policy)
cli.add_command(audit)
cli.add_command(token)
cli.add_command(demo)
cli.add_command(replay)
cli.add_command(doctor)
cli.add_command(agents)


def main() -> None:
    """The console entry point (a configuration problem: `_Commands`)."""
    cli()


if __name__ == "__main__":
    main()
