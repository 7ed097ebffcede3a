"""`foureyes demo`."""

from __future__ import annotations

import threading

import click


@click.command()
@click.option(
    "--keep-running",
    is_flag=True,
    help="Keep serving after the story, to open the details page (Ctrl-C stops).",
)
def demo(keep_running: bool) -> None:
    """Play the whole story on the bundled GitHub simulator (no account, no network) and
    print what happened, then the agent's audit trail."""
    from app.demo import run_demo

    try:
        run_demo(click.echo, keep_running=threading.Event() if keep_running else None)
    except KeyboardInterrupt:
        click.echo("stopped")
