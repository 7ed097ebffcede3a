"""Fixtures for the worker tests: the app's services against the simulator, and a webhook
receiver that answers what a test tells it (an outage, then recovery)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from structlog.testing import CapturingLogger
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from app.demo.stack import eager_app
from app.services import Services
from app.simulator import Installed, Simulator


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class Receiver:
    """A stand-in webhook endpoint: answers `statuses` in turn (then 202), records GUIDs."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[str, str]] = field(default_factory=list)  # (guid, status)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: BaseWSGIServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else 202
            self.received.append((request.headers.get("X-GitHub-Delivery", ""), status))
        return Response("{}", status=status, content_type="application/json")(
            environ, start_response
        )

    def guids(self) -> list[str]:
        with self.lock:
            return [guid for guid, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.server = make_server("127.0.0.1", 0, receiver, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(
        target=lambda: receiver.server.serve_forever(poll_interval=0.05), daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def flask_app(simulator: Simulator, installed: Installed, tmp_path: Path) -> Iterator[Flask]:
    """The app in eager mode (tasks run inline) on SQLite, talking to the simulator."""
    with eager_app(simulator, installed, tmp_path) as flask_app, flask_app.app_context():
        yield flask_app


@pytest.fixture
def deps(flask_app: Flask) -> Services:
    return flask_app.extensions["foureyes"]


@pytest.fixture
def task_log(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[dict[str, Any]]]:
    """What the task base class logs: `task_log("task.retry")` -> the events' fields."""
    import workers.base

    captured = CapturingLogger()
    monkeypatch.setattr(workers.base, "log", captured)

    def events(name: str) -> list[dict[str, Any]]:
        return [
            {"event": call.args[0], "log_level": call.method_name, **call.kwargs}
            for call in captured.calls
            if call.args and call.args[0] == name
        ]

    return events
