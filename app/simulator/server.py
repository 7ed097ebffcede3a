"""The loopback GitHub: a threaded werkzeug server over a `World`.

Answers like api.github.com: the same JSON shapes (GitHub's examples patched with the
world's state), auth rules, rate-limit headers, ETags with 304s, `Link` pagination and
error bodies. Tests add faults (`fail`, `fail_rate_limit`) and delays (`slow`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import structlog
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from app.simulator.auth import authenticate, authorize
from app.simulator.http import Auth, Call, HttpError, Reply, Route
from app.simulator.model import RecordedRequest
from app.simulator.story import Story
from app.simulator.validation import Refusal, Refused, operation, resolve, validate
from app.simulator.world import World

# One line per area; a new area adds its module here.
ROUTE_MODULES = (
    "app.simulator.routes_oauth",  # first: it answers user tokens on `/repos/{owner}/{repo}`
    "app.simulator.routes_apps",
    "app.simulator.routes_manifest",
    # before routes_repos: `.../branches/{branch}/protection` is not a branch named so
    "app.simulator.routes_rulesets",
    "app.simulator.routes_repos",
    "app.simulator.routes_git",
    "app.simulator.routes_pulls",
    "app.simulator.routes_checks",
    "app.simulator.routes_issues",
    "app.simulator.routes_deliveries",
    "app.simulator.routes_deployments",
)
RATE_LIMIT = 5000
UNAUTHENTICATED_RATE_LIMIT = 60
RECORDED_HEADERS = ("if-none-match", "accept", "content-type", "user-agent")
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
log = structlog.get_logger()


def load_routes() -> list[Route]:
    routes: list[Route] = []
    for name in ROUTE_MODULES:
        routes.extend(importlib.import_module(name).routes.routes)
    return routes


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: Any


@dataclass
class Delay:
    path: re.Pattern[str]
    seconds: float
    times: int


@dataclass
class RateWindow:
    limit: int
    reset: int
    used: int = 0


def _scheme(header: str | None) -> str | None:
    """The scheme of an Authorization header (never its credential, which is not kept)."""
    return header.strip().partition(" ")[0].lower() or None if header else None


class _QuietHandler(WSGIRequestHandler):
    """The simulator records requests itself; werkzeug's access log is noise in tests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class _Outcome:
    reply: Reply
    auth: Auth = field(default_factory=lambda: Auth("none"))


class Simulator(Story):
    """The simulated GitHub API on 127.0.0.1 with the story helpers of `Story`."""

    # Called with every recorded request of every instance: the test session collects
    # the calls the app makes into its inventory check (tests/github_calls.py).
    observers: ClassVar[list[Callable[[RecordedRequest], None]]] = []

    def __init__(self, world: World | None = None) -> None:
        super().__init__(world or World())
        self.routes = load_routes()
        # Raises for a route GitHub does not have: the simulator cannot serve one.
        self.operations = {id(route): operation(route) for route in self.routes}
        self._requests: list[RecordedRequest] = []
        self._refusals: list[Refusal] = []
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []
        self._rates: dict[str, RateWindow] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> str:
        """Serve on an ephemeral loopback port in a daemon thread; returns the base URL."""
        if self._server is None:
            self._server = make_server(
                "127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_QuietHandler
            )
            self.world.base_url = f"http://127.0.0.1:{self._server.server_port}"
            server = self._server
            self._thread = threading.Thread(
                # A short poll makes `stop()` quick: tests start one simulator each.
                target=lambda: server.serve_forever(poll_interval=0.05),
                name="github-simulator",
                daemon=True,
            )
            self._thread.start()
        return self.url

    def stop(self) -> None:
        self.close_deliveries()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server, self._thread = None, None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.world.base_url

    # -- observation and faults ------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self.world.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.world.lock:
            self._requests.clear()

    @property
    def refusals(self) -> list[Refusal]:
        """Requests refused for not being what GitHub accepts (see `validation`)."""
        with self.world.lock:
            return list(self._refusals)

    def take_refusals(self) -> list[Refusal]:
        """The refusals so far, forgotten: how a test says it expected them."""
        with self.world.lock:
            taken, self._refusals = self._refusals, []
        return taken

    def fail(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next `times` matching requests with `status`.

        403 and 429 default to GitHub's secondary rate limit (a message and
        `retry-after: 1`); pass `headers`/`body` to change that (a header given as None
        is left out: a 403 that is not a rate limit).
        """
        defaults: dict[str, str] = {}
        message = "Server Error" if status >= 500 else "Simulated failure"
        if status in (403, 429):
            defaults, message = {"retry-after": "1"}, SECONDARY_LIMIT_MESSAGE
        payload = body if body is not None else {"message": message, "documentation_url": ""}
        with self.world.lock:
            self._faults.append(
                Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    times,
                    {
                        k: v
                        for k, v in {
                            **defaults,
                            **{k.lower(): v for k, v in (headers or {}).items()},
                        }.items()
                        if v is not None  # None drops a default header
                    },
                    payload,
                )
            )

    def fail_rate_limit(
        self, method: str, path_regex: str, reset_in: int = 60, times: int = 1
    ) -> None:
        """GitHub's primary rate limit: 403 with `x-ratelimit-remaining: 0` and a reset."""
        headers = {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": str(RATE_LIMIT),
            "x-ratelimit-reset": str(int(time.time()) + reset_in),
            "x-ratelimit-resource": "core",
        }
        body = {"message": "API rate limit exceeded for installation.", "documentation_url": ""}
        self.fail(method, path_regex, 403, times, headers, body)
        with self.world.lock:
            self._faults[-1].headers.pop("retry-after", None)

    def slow(self, path_regex: str, seconds: float, times: int = 1) -> None:
        """Delay the next `times` requests whose path matches, before answering."""
        with self.world.lock:
            self._delays.append(Delay(re.compile(path_regex), seconds, times))

    def _take(self, items: list[Any], match: Any) -> Any:
        with self.world.lock:
            for item in items:
                if item.times > 0 and match(item):
                    item.times -= 1
                    return item
        return None

    # -- serving ---------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        path, method = request.path, request.method.upper()
        delay = self._take(self._delays, lambda d: d.path.search(path))
        if delay is not None:
            time.sleep(delay.seconds)
        try:
            outcome = self._handle(request, method, path)
        except Exception:
            log.exception("simulator.error", method=method, path=path)
            outcome = _Outcome(HttpError(500, "Server Error").reply())
        for event, repo, build in outcome.reply.webhooks:
            try:
                self._emit(event, repo, build)
            except Exception as exc:  # recorded as a failed delivery by `deliver`
                log.info("simulator.delivery_failed", webhook=event, error=type(exc).__name__)
        response = self._finish(request, method, outcome)
        self._record(request, method, path, response.status_code, outcome.auth)
        self.send_queued()
        return response(environ, start_response)

    def _handle(self, request: Request, method: str, path: str) -> _Outcome:
        try:
            auth = authenticate(self.world, request.headers.get("Authorization"))
        except HttpError as error:
            return _Outcome(error.reply())
        fault = self._take(self._faults, lambda f: f.method == method and f.path.search(path))
        if fault is not None:
            return _Outcome(Reply(fault.status, fault.body, dict(fault.headers)), auth)
        try:
            route, params = resolve(self.routes, method, path)
        except Refused as refused:
            return _Outcome(self._refuse(method, path, refused), auth)
        call = Call(
            world=self.world,
            method=method,
            path=path,
            params=params,
            query={key: request.args[key] for key in request.args},
            headers=request.headers,
            body=request.get_data(),
            auth=auth,
        )
        try:
            with self.world.lock:
                authorize(self.world, route, call)
                validate(self.operations[id(route)], call)
                return _Outcome(route.handler(call), auth)
        except Refused as refused:
            return _Outcome(self._refuse(method, path, refused), auth)
        except HttpError as error:
            return _Outcome(error.reply(), auth)

    def _refuse(self, method: str, path: str, refused: Refused) -> Reply:
        refusal = Refusal(method, path, refused.status, refused.kind, refused.detail)
        log.warning("simulator.refused", **asdict(refusal))
        with self.world.lock:
            self._refusals.append(refusal)
        return refused.reply()

    def _finish(self, request: Request, method: str, outcome: _Outcome) -> Response:
        reply = outcome.reply
        if reply.raw is not None:
            data = reply.raw.encode()
        elif reply.body is None:
            data = b""
        else:
            data = json.dumps(reply.body).encode()
        headers = {"Content-Type": reply.content_type, "X-GitHub-Request-Id": uuid.uuid4().hex}
        headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        status = reply.status
        if method in ("GET", "HEAD") and status == 200:
            etag = f'W/"{hashlib.sha256(data).hexdigest()[:40]}"'
            headers["ETag"] = etag
            wanted = request.headers.get("If-None-Match", "")
            if etag.removeprefix("W/") in {t.strip().removeprefix("W/") for t in wanted.split(",")}:
                status, data = 304, b""
        headers.update(self._rate_headers(outcome.auth, counted=status != 304))
        headers.update(reply.headers)
        if status in (204, 304):
            data = b""
        return Response(data, status=status, headers=headers)

    def _rate_headers(self, auth: Auth, counted: bool) -> dict[str, str]:
        """GitHub's rate-limit headers; a 304 costs nothing, as on GitHub."""
        key = f"{auth.kind}:{auth.installation_id or auth.app_id or ''}"
        now = int(time.time())
        with self.world.lock:
            window = self._rates.get(key)
            if window is None or window.reset <= now:
                limit = UNAUTHENTICATED_RATE_LIMIT if auth.kind == "none" else RATE_LIMIT
                window = self._rates[key] = RateWindow(limit, now + 3600)
            if counted:
                window.used = min(window.used + 1, window.limit)
            return {
                "x-ratelimit-limit": str(window.limit),
                "x-ratelimit-remaining": str(window.limit - window.used),
                "x-ratelimit-used": str(window.used),
                "x-ratelimit-reset": str(window.reset),
                "x-ratelimit-resource": "core",
            }

    def _record(self, request: Request, method: str, path: str, status: int, auth: Auth) -> None:
        headers = {
            name: request.headers[name] for name in RECORDED_HEADERS if name in request.headers
        }
        record = RecordedRequest(
            method=method,
            path=path,
            query={key: request.args[key] for key in request.args},
            status=status,
            headers=headers,
            auth=auth.kind,
            scheme=_scheme(request.headers.get("Authorization")),
            installation_id=auth.installation_id,
            app_id=auth.app_id,
            template=next(
                (r.template for r in self.routes if r.method == method and r.regex.match(path)),
                None,
            ),
        )
        with self.world.lock:
            self._requests.append(record)
        for observer in self.observers:
            observer(record)
