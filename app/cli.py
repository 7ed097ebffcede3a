"""The `foureyes` command."""

from __future__ import annotations

import click

from app.config import Settings


@click.group()
def cli() -> None:
    """foureyes: a human countersigns every merge, deployment and access widening of agents."""


@cli.group()
def db() -> None:
    """The audit database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (serve, the web and the worker also do this on start)."""
    from app.db import make_engine
    from app.migrate import upgrade

    settings = Settings.from_env()
    upgrade(make_engine(settings.database_url), settings.instance_path)
    click.echo("database is at the newest revision")


def main() -> None:
    cli()
