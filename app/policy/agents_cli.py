"""`foureyes agents`: the built-in catalogue of agent signatures."""

from __future__ import annotations

import json

import click

from app.policy.catalogue import Entry, catalogue

RECIPE_WORDS = {
    "author": "the pull request's author",
    "assigned": "whom the agent assigns",
    "review_requested": "whom the agent asks to review",
    "co_author": "a Co-authored-by trailer with a GitHub no-reply e-mail",
    "body": "a line of the pull request body",
}


@click.command("agents")
@click.option("--json", "as_json", is_flag=True, help="print the catalogue as JSON")
def agents(as_json: bool) -> None:
    """List the agents and bots foureyes recognises (policy key agents.known)."""
    found = catalogue()
    if as_json:
        click.echo(
            json.dumps(
                {"checked": found.checked, "agents": [_data(e) for e in found.entries]}, indent=2
            )
        )
        return
    click.echo(f"agent catalogue, checked {found.checked} ({len(found.entries)} entries)")
    for entry in found.entries:
        click.echo("")
        click.echo(f"{entry.name}: {entry.title} ({entry.kind})")
        for label, values in (
            ("accounts", entry.logins),
            ("branches", entry.branches),
            ("git identities", entry.identities),
            ("trailers", [f"{k}: {v}" for k, v in entry.trailers]),
            ("markers", entry.markers),
        ):
            if values:
                click.echo(f"  {label}: {', '.join(values)}")
        recipes = ", ".join(RECIPE_WORDS[r] for r in entry.requester) or "none"
        click.echo(f"  works for: {recipes}")
        click.echo(f"  {entry.requester_note}")
        for source in entry.sources:
            click.echo(f"  source ({source.checked}): {source.url}")


def _data(entry: Entry) -> dict[str, object]:
    return {
        "name": entry.name,
        "title": entry.title,
        "kind": entry.kind,
        "logins": list(entry.logins),
        "branches": list(entry.branches),
        "identities": list(entry.identities),
        "trailers": [f"{k}: {v}" for k, v in entry.trailers],
        "markers": list(entry.markers),
        "requester": list(entry.requester),
        "requester_note": entry.requester_note,
        "sources": [s.__dict__ for s in entry.sources],
    }
