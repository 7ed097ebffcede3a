"""Every `@octokit/webhooks-examples` payload (all 329), signed and sent as it is to the
real intake, runs through `process_delivery` and the real handlers against the simulator
(eager Celery, as the other intake tests) without a task raising or an error logged.

The examples come from repository webhooks, organisation webhooks and apps alike, about
repositories and installations the simulator does not know: each must end in a clear
outcome (ignored with its reason, or dropped because GitHub answers that the
installation is gone), never a traceback.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import json
import re
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from celery.signals import task_failure
from flask import Flask
from structlog.testing import CapturingLogger

from app.audit.models import AuditEvent
from app.simulator import Installed, Simulator
from app.simulator.examples import webhook
from workers.webhooks import NOT_AN_APP_DELIVERY

EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "webhook-examples.json.gz"


@functools.cache
def _examples() -> bytes:
    return gzip.decompress(EXAMPLES.read_bytes())


def examples() -> list[tuple[str, dict[str, Any]]]:
    """Fresh copies of every example: `(event, payload)`."""
    return [(event, payload) for event, payload in json.loads(_examples())]


def send(client: Any, secret: str, event: str, payload: dict[str, Any]) -> int:
    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/api/github/webhooks",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": signature,
        },
    )
    return response.status_code


def install_as(simulator: Simulator, installed: Installed, ids: set[int]) -> None:
    """The app installed on `acme` under the ids the examples carry: their deliveries then
    get a token, and meet GitHub's answers about repositories the app cannot see."""
    world = simulator.world
    with world.lock:
        for wanted in ids:
            installation = world.add_installation(installed.app_id, "acme", None)
            del world.installations[installation.id]
            installation.id = wanted
            world.installations[wanted] = installation


def where(reason: str) -> str:
    """A dropped task's reason with ids and repository names as placeholders."""
    reason = re.sub(r"/repos/[^/]+/[^/]+", "/repos/{repo}", reason)
    reason = re.sub(r"/[0-9a-f]{40}", "/{sha}", reason)
    return re.sub(r"/\d+", "/{id}", reason)


@pytest.fixture
def app_log(monkeypatch: pytest.MonkeyPatch) -> CapturingLogger:
    """Every app and worker module's `log`, captured (whatever structlog's configuration
    and its cached loggers): what the worker log would show."""
    captured = CapturingLogger()
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] not in ("app", "workers") or name.startswith("app.simulator"):
            continue
        found = getattr(module, "log", None)
        if callable(getattr(found, "bind", None)) and callable(getattr(found, "info", None)):
            monkeypatch.setattr(module, "log", captured)
    return captured


def run_all(flask_app: Flask, secret: str, app_log: CapturingLogger) -> dict[str, Any]:
    """Send every example; fail on any task failure or error logged; the outcomes."""
    failures: list[str] = []

    def failed(sender: Any = None, exception: Any = None, **_: Any) -> None:
        failures.append(f"{getattr(sender, 'name', sender)}: {exception!r}")

    task_failure.connect(failed, weak=False)
    client = flask_app.test_client()
    statuses: Counter[int] = Counter()
    try:
        for event, payload in examples():
            statuses[send(client, secret, event, payload)] += 1
    finally:
        task_failure.disconnect(failed)
    logs = [{"event": c.args[0], "level": c.method_name, **c.kwargs} for c in app_log.calls]
    errors = [e for e in logs if e["level"] in ("error", "critical", "exception")]
    assert failures == [] and errors == []
    assert statuses == {202: len(examples())}

    with flask_app.extensions["foureyes"].sessions() as session:
        received = session.query(AuditEvent).filter(AuditEvent.type == "webhook.received").all()
        reasons = [(e.decision, e.reason or "") for e in received]
        subjects = [e.subject for e in received]
        checks = session.query(AuditEvent).filter(AuditEvent.type == "gate.evaluated").all()
        conclusions = Counter(e.decision for e in checks)
    assert not [subject for subject in subjects if not subject or "None" in subject]
    ignored = Counter(reason for decision, reason in reasons if decision == "ignored")
    dropped = Counter(where(e["reason"]) for e in logs if e["event"] == "task.dropped")
    print(f"webhook examples ignored, by reason: {json.dumps(ignored, indent=1, sort_keys=True)}")
    outcome = {
        "received": len(reasons),
        "processed": sum(1 for decision, _ in reasons if decision is None),
        "ignored": dict(Counter(reason.split(" for ")[0] for reason in ignored.elements())),
        "dropped": dict(dropped),
        "evaluated": dict(conclusions),
    }
    print(f"webhook examples: {json.dumps(outcome, indent=1, sort_keys=True)}")
    return outcome


def test_every_webhook_example_is_taken_without_a_traceback(
    flask_app: Flask, installed: Installed, app_log: CapturingLogger
) -> None:
    outcome = run_all(flask_app, installed.webhook_secret, app_log)
    # The examples' installations are not this simulator's: minting a token is refused,
    # and the tasks that needed one are dropped (`task.dropped`, GitHub's answer logged).
    assert outcome == {
        "received": 329,
        "processed": 38,
        "ignored": {"no handler": 95, NOT_AN_APP_DELIVERY: 196},
        "dropped": {"GitHub answered 404 for /app/installations/{id}/access_tokens": 32},
        "evaluated": {},
    }


def test_every_webhook_example_from_a_known_installation_ends_in_an_answer(
    flask_app: Flask, simulator: Simulator, installed: Installed, app_log: CapturingLogger
) -> None:
    ids = {
        payload["installation"]["id"] for _, payload in examples() if payload.get("installation")
    }
    install_as(simulator, installed, ids)
    outcome = run_all(flask_app, installed.webhook_secret, app_log)
    # Tokens are minted now; the repositories are unknown to GitHub. The two merge groups
    # fail closed (their comparison is refused) and their check cannot be published on
    # a repository that does not exist; every other task ends at GitHub's 404.
    assert outcome == {
        "received": 329,
        "processed": 38,
        "ignored": {"no handler": 95, NOT_AN_APP_DELIVERY: 196},
        "dropped": {
            "GitHub answered 404 for /repos/{repo}/check-runs": 1,
            "GitHub answered 404 for /repos/{repo}/commits/{sha}/check-runs": 1,
            "GitHub answered 404 for /repos/{repo}/pulls": 5,
            "GitHub answered 404 for /repos/{repo}/pulls/{id}": 19,
        },
        "evaluated": {"failure": 2},
    }


def test_a_repository_webhook_is_acknowledged_and_ignored_with_one_line_and_an_event(
    flask_app: Flask, installed: Installed, app_log: CapturingLogger
) -> None:
    payload = webhook("pull_request.opened")
    payload.pop("installation")
    assert send(flask_app.test_client(), installed.webhook_secret, "pull_request", payload) == 202

    lines = [
        (c.args[0], c.kwargs)
        for c in app_log.calls
        if c.args[0].startswith("webhook.") and c.method_name != "debug"
    ]
    assert lines == [("webhook.ignored", {"reason": NOT_AN_APP_DELIVERY, "handlers": 0})]
    with flask_app.extensions["foureyes"].sessions() as session:
        [event] = session.query(AuditEvent).filter(AuditEvent.type == "webhook.received").all()
    assert (event.decision, event.reason) == ("ignored", NOT_AN_APP_DELIVERY)
    assert event.subject == payload["repository"]["full_name"]
    assert event.installation_id is None
    assert event.data["event"] == "pull_request" and event.data["action"] == "opened"
