"""`foureyes doctor`: the report on the terminal (or as JSON), non-zero on any problem."""

from __future__ import annotations

import json

import click

from app import preflight
from app.config import Settings
from app.errors import ConfigError, FoureyesError


@click.command()
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--verbose", "-v", is_flag=True, help="also show what is fine, and why")
def doctor(as_json: bool, verbose: bool) -> None:
    """Is the gate really enforced on each repository? Exit 1 on any problem, 2 when the
    configuration (checked first) or GitHub keeps it from running.

    For every repository the app is installed on: the default branch requires the check
    from this app, no agent may bypass it, deployment environments use the app's rule,
    and the app holds the permissions and events app.yml asks for.
    """
    from githubkit.exception import GitHubException

    from app.doctor import render_table, run_doctor
    from app.manifest import load_manifest
    from app.migrate import upgrade
    from app.services import build_services

    try:
        settings = Settings.from_env()
        if settings.setup_mode:
            raise ConfigError("no APP_ID: register the app first (`foureyes serve`, then /setup)")
        preflight.require(settings, preflight.DATABASE, preflight.REDIS, preflight.GITHUB)
        deps = build_services(settings)
        try:
            upgrade(deps.engine, settings.instance_path)
            report = run_doctor(deps.github, deps.state, settings.check_name, load_manifest())
        finally:
            deps.engine.dispose()
    except (FoureyesError, GitHubException) as exc:
        problems = exc.problems if isinstance(exc, preflight.PreflightError) else [str(exc)]
        if as_json:
            click.echo(json.dumps({"ok": False, "could_not_run": problems}, indent=2))
        for line in problems:
            click.echo(f"Error: {line}", err=True)
        raise SystemExit(2) from exc
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(render_table(report, verbose=verbose))
    raise SystemExit(0 if report.ok else 1)
