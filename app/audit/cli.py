"""`foureyes audit verify | trail | export`: read the log straight from the database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app import preflight
from app.config import Settings
from app.errors import ConfigError


@contextmanager
def _session() -> Iterator[Session]:
    from app.db import make_engine

    settings = Settings.from_env()
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None:
        # Reading must not create an empty database (SQLite makes the file on connect).
        raise ConfigError(
            f"DATABASE_URL: no audit database at {missing}: foureyes has not run with this "
            "configuration here (`foureyes demo` keeps its own, in a temporary folder)"
        )
    preflight.require(settings, preflight.DATABASE)
    engine = make_engine(settings.database_url)
    try:
        if not inspect(engine).has_table("audit_events"):
            raise ConfigError("DATABASE_URL: no audit table there: run `foureyes db upgrade`")
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _missing_sqlite_file(database_url: str) -> Path | None:
    """The SQLite file `database_url` names, when it does not exist; else None."""
    if not database_url.startswith("sqlite:///"):
        return None
    name = database_url.removeprefix("sqlite:///")
    if not name or name == ":memory:":
        return None
    path = Path(name)
    return None if path.exists() else path


def _since(value: str | None) -> datetime | None:
    """ISO 8601; a date or a time without an offset is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint="--since") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group()
def audit() -> None:
    """The hash-chained audit trail: verify it, read it, export it."""


@audit.command("verify")
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="A head printed by an earlier verify: fail if that event is gone or changed.",
)
@click.option(
    "--anchors",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signed checkpoints to check against (default: FOUREYES_AUDIT_ANCHOR_PATH).",
)
def verify_command(expect_head: str | None, anchors: Path | None) -> None:
    """Check every hash and link, and the signed checkpoints; exit 1 naming the first bad seq."""
    from app.audit.anchor import AnchorError, read_checkpoints
    from app.audit.verify import Anchor, verify

    try:
        anchor = Anchor.parse(expect_head) if expect_head else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expect-head") from exc
    settings = Settings.from_env()
    path = anchors or settings.audit_anchor_path
    checkpoints = []
    if path.exists():
        if not settings.private_key:
            raise click.ClickException(f"{path}: PRIVATE_KEY is needed to check its signatures")
        try:
            checkpoints = read_checkpoints(path, settings.private_key)
        except AnchorError as exc:
            click.echo(f"audit checkpoints not trustworthy: {exc}", err=True)
            sys.exit(1)
    elif anchors is not None:
        raise click.BadParameter(f"{path} does not exist", param_hint="--anchors")
    with _session() as session:
        verdict = verify(session, anchor, [c.anchor for c in checkpoints])
    if not verdict.ok:
        click.echo(verdict.describe(), err=True)
        click.echo(f"last good head: {verdict.head.seq}:{verdict.head.hash}", err=True)
        sys.exit(1)
    click.echo(verdict.describe())
    if checkpoints:
        newest = checkpoints[-1]
        click.echo(
            f"matches {len(checkpoints)} signed checkpoints in {path} "
            f"(newest: seq {newest.seq} at {newest.ts})"
        )
    else:
        click.echo(f"no signed checkpoints in {path}: only the chain's own links were checked")
    click.echo("record this head and check it later with:")
    click.echo(f"  foureyes audit verify --expect-head {verdict.head.seq}:{verdict.head.hash}")


@audit.command("trail")
@click.option("--agent", help="A workload identity (the `agent` of its events).")
@click.option(
    "--repo",
    "--repository",
    "repository",
    metavar="OWNER/REPO",
    help="A repository (`--repository` is the old spelling).",
)
@click.option("--pr", type=int, help="A pull request number (with --repo).")
@click.option("--since", help="ISO 8601 time (UTC unless it has an offset).")
def trail_command(
    agent: str | None, repository: str | None, pr: int | None, since: str | None
) -> None:
    """A readable timeline with its links: which token, which pull request, which approval."""
    from app.audit.trail import gather, render

    if agent and repository:
        raise click.UsageError("give --agent or --repo, not both")
    moment = _since(since)
    with _session() as session:
        try:
            events = gather(session, agent=agent, repository=repository, pr=pr, since=moment)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        title = (
            f"agent {agent}"
            if agent
            else f"{repository}#{pr}"
            if pr is not None
            else repository or f"since {since}"
        )
        click.echo(render(events, title))


@audit.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "ocsf"]),
    default="jsonl",
    show_default=True,
    help="jsonl: the events as stored, one a line; ocsf: OCSF 1.8.0 events for a SIEM.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="A file (default stdout).")
@click.option("--since", help="ISO 8601 time (UTC unless it has an offset).")
def export_command(fmt: str, output: str | None, since: str | None) -> None:
    """Stream every event, one JSON document per line, in constant memory."""
    from app.audit.export import write

    moment = _since(since)
    with _session() as session:
        if output is None:
            count = write(session, sys.stdout, fmt, moment)
        else:
            with open(output, "w", encoding="utf-8") as handle:
                count = write(session, handle, fmt, moment)
    click.echo(f"exported {count} events", err=True)
