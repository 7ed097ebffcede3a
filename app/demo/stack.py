"""foureyes in one process, the one builder of it for the demo, the benchmarks and the
tests: the app wired to the GitHub simulator as an installed app, with Celery eager
(every task runs inside the request that queued it) and SQLite in a folder of its own.

- `stack_settings` / `eager_app`: that app, for a caller that holds the simulator and
  drives the app through its test client (unit tests, the in-process benchmarks);
  `EagerGate` delivers the simulator's webhooks to it, signed, as GitHub would.
- `local_stack`: the whole of it: a simulator of its own, a workload-identity issuer, and
  the app served on 127.0.0.1 by a werkzeug thread, so the simulator delivers webhooks
  over real HTTP. `foureyes demo` plays its story on it; tests drive it too.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from app.config import Settings
from app.demo.issuer import DemoIssuer
from app.replay import WEBHOOK_PATH, delivery_headers
from app.simulator import Installed, Simulator
from app.simulator.model import RecordedRequest
from app.simulator.routes_oauth import oauth_client


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _LateApp:
    """The server must listen (its port is in FOUREYES_URL) before the app can be built."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"starting"]
        return self.app(environ, start_response)


@dataclass
class LocalStack:
    sim: Simulator
    issuer: DemoIssuer
    installed: Installed
    settings: Settings
    flask_app: Flask
    url: str
    admin_token: str

    def agent_jwt(self, subject: str, **claims: Any) -> str:
        """A workload-identity JWT for `subject`, addressed to this foureyes."""
        return self.issuer.token(subject, audience=self.settings.audience, **claims)


def _serve(server: BaseWSGIServer) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name="foureyes-web", daemon=True
    )
    thread.start()
    return thread


def stack_settings(
    sim: Simulator, installed: Installed, workdir: Path, env: Mapping[str, str] | None = None
) -> Settings:
    """foureyes as `installed` on `sim`, Celery eager, SQLite in `workdir`; `env` adds or
    overrides settings (trusted issuers, REDIS_URL, an admin token...)."""
    return Settings.from_mapping(
        {
            "APP_ID": str(installed.app_id),
            "PRIVATE_KEY": installed.private_key,
            "WEBHOOK_SECRET": installed.webhook_secret,
            "GITHUB_API_URL": sim.url,
            "DATABASE_URL": f"sqlite:///{workdir / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(workdir / "instance"),
            "FOUREYES_EAGER": "1",
            **(env or {}),
        }
    )


@contextmanager
def eager_app(
    sim: Simulator, installed: Installed, workdir: Path, env: Mapping[str, str] | None = None
) -> Iterator[Flask]:
    """The app built from `stack_settings`; its database connections closed on exit."""
    from app import create_app

    flask_app = create_app(stack_settings(sim, installed, workdir, env))
    try:
        yield flask_app
    finally:
        flask_app.extensions["foureyes"].engine.dispose()


@dataclass
class EagerGate:
    """The app of `eager_app` and the simulator it is installed on."""

    simulator: Simulator
    installed: Installed
    app: Flask

    def deliver(self, event: str, payload: dict[str, Any] | None = None) -> list[RecordedRequest]:
        """Deliver `payload` (default: the simulator's last webhook) to the intake, signed;
        returns the requests its handling cost GitHub. Raises unless it was queued (202)."""
        body = json.dumps(payload or self.simulator.last_payload).encode()
        headers = delivery_headers(self.installed.webhook_secret, body, event, str(uuid.uuid4()))
        self.simulator.clear_requests()
        response = self.app.test_client().post(WEBHOOK_PATH, data=body, headers=headers)
        if response.status_code != 202:
            raise RuntimeError(
                f"intake answered {response.status_code}: {response.get_data(as_text=True)}"
            )
        return self.simulator.requests


@contextmanager
def local_stack(
    workdir: Path, *, account: str = "acme", env: Mapping[str, str] | None = None
) -> Iterator[LocalStack]:
    """Start everything; `env` adds or overrides settings. Stopped on exit."""
    with ExitStack() as stack:
        sim = Simulator()
        sim.start()
        stack.callback(sim.stop)
        issuer = stack.enter_context(DemoIssuer())
        late = _LateApp()
        server = make_server("127.0.0.1", 0, late, threaded=True, request_handler=_QuietHandler)
        url = f"http://127.0.0.1:{server.server_port}"
        installed = sim.install(account=account)
        client_id, client_secret = oauth_client(sim.world, installed.app_id)
        admin_token = secrets.token_urlsafe(24)
        env = {
            "FOUREYES_URL": url,
            "FOUREYES_TRUSTED_ISSUERS": json.dumps([issuer.trusted]),
            "FOUREYES_ADMIN_TOKEN": admin_token,
            "GITHUB_CLIENT_ID": client_id,
            "GITHUB_CLIENT_SECRET": client_secret,
            **(env or {}),
        }
        flask_app = stack.enter_context(eager_app(sim, installed, workdir, env))
        settings = flask_app.extensions["foureyes"].settings
        late.app = flask_app
        thread = _serve(server)
        stack.callback(thread.join, 5)
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        sim.configure_webhook(installed.app_id, url)
        yield LocalStack(sim, issuer, installed, settings, flask_app, url, admin_token)
