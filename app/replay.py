"""`foureyes replay PAYLOAD --event NAME`: feed a recorded webhook delivery to foureyes.

The payload is sent exactly as recorded, signed with WEBHOOK_SECRET as GitHub signs it,
to `<FOUREYES_URL>/api/github/webhooks` (or `--url`), under a new delivery id unless
`--delivery` names one (then a delivery already received is answered 200 duplicate).
With `--local` it goes through the same intake in this process instead, with Celery
eager: the handlers run here, against the configured GitHub and database.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import uuid
from pathlib import Path

import click
import httpx

from app import preflight
from app.config import Settings

WEBHOOK_PATH = "/api/github/webhooks"


def signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`, as GitHub computes it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(secret: str, body: bytes, event: str, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "foureyes-replay",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature(secret, body),
    }


def send(url: str, secret: str, body: bytes, event: str, delivery: str) -> tuple[int, str]:
    """POST the delivery to a running foureyes; (status, response text)."""
    response = httpx.post(
        url.rstrip("/") + WEBHOOK_PATH,
        content=body,
        headers=delivery_headers(secret, body, event, delivery),
        timeout=30,
    )
    return response.status_code, response.text


def run_local(settings: Settings, body: bytes, event: str, delivery: str) -> tuple[int, str]:
    """The same intake and handlers in this process, Celery eager; (status, response text)."""
    from app import create_app

    flask_app = create_app(dataclasses.replace(settings, eager=True))
    try:
        headers = delivery_headers(settings.webhook_secret or "", body, event, delivery)
        response = flask_app.test_client().post(WEBHOOK_PATH, data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)
    finally:
        flask_app.extensions["foureyes"].engine.dispose()


def _reason(text: str) -> str:
    try:
        answer = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if not isinstance(answer, dict):
        return ""
    return str(answer.get("reason") or answer.get("status") or "")


@click.command()
@click.argument("payload", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--event", required=True, help="The X-GitHub-Event, e.g. pull_request.")
@click.option("--url", help="foureyes' base URL (default: FOUREYES_URL).")
@click.option("--delivery", help="The X-GitHub-Delivery id (default: a new one).")
@click.option("--local", is_flag=True, help="Run the handlers in this process (Celery eager).")
def replay(payload: Path, event: str, url: str | None, delivery: str | None, local: bool) -> None:
    """Sign PAYLOAD (a recorded webhook body) with WEBHOOK_SECRET and deliver it."""
    body = payload.read_bytes()
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="PAYLOAD") from exc
    if not isinstance(parsed, dict):
        raise click.BadParameter("the payload must be a JSON object", param_hint="PAYLOAD")
    settings = Settings.from_env()
    if not settings.webhook_secret:
        raise click.ClickException("WEBHOOK_SECRET is not set: nothing to sign the payload with")
    delivery = delivery or str(uuid.uuid4())
    if local:
        preflight.require(settings, preflight.DATABASE, preflight.REDIS, preflight.GITHUB)
    target = "in-process" if local else (url or settings.foureyes_url)
    try:
        if local:
            status, text = run_local(settings, body, event, delivery)
        else:
            status, text = send(target, settings.webhook_secret, body, event, delivery)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"could not reach {target}: {exc}") from exc
    reason = _reason(text)
    line = f"{status} {event} delivery {delivery} ({target})"
    click.echo(f"{line}: {reason}" if reason else line)
    raise click.exceptions.Exit(0 if 200 <= status < 300 else 1)
