"""The simulator's small routing mechanism: route tables, calls, replies, pagination.

Each `routes_*.py` module builds one `Routes` table with decorators, and the server
merges the tables listed in `app.simulator.server.ROUTE_MODULES`. A handler takes a
`Call` (the request, already authenticated and authorised) and returns a `Reply`, or
raises `HttpError`; it runs under the world's lock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from app.simulator.model import Installation, Repo, Token
from app.simulator.world import World

APP = "app"  # needs an app JWT
INSTALLATION = "installation"  # needs an installation token
ANY = "any"  # no credentials needed (a valid one is still recorded)
DOCS = "https://docs.github.com/rest"
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Auth:
    kind: str  # app | installation | user | none
    app_id: int | None = None
    installation_id: int | None = None
    token: Token | None = None
    login: str | None = None  # a user token's user (OAuth sign-in, `routes_oauth`)


Webhook = tuple[str, Repo, Callable[[Installation | None], dict[str, Any]]]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # sent as is instead of `body` as JSON
    content_type: str = "application/json; charset=utf-8"
    # Webhooks the call triggers: (event, repository, payload builder per installation),
    # sent once the world's lock is released, as GitHub sends them after the change.
    webhooks: list[Webhook] = field(default_factory=list)


class HttpError(Exception):
    """An error answer in GitHub's shape: `{"message", "documentation_url", "status"}`."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.errors = errors

    def reply(self) -> Reply:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors:
            body["errors"] = self.errors
        body["status"] = str(self.status)
        return Reply(self.status, body, dict(self.headers))


@dataclass
class Call:
    world: World
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    auth: Auth
    repo: Repo | None = None  # the `{owner}/{repo}` of the path, once authorised

    @property
    def base_url(self) -> str:
        return self.world.base_url.rstrip("/")

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise HttpError(400, "Problems parsing JSON") from None
        if not isinstance(data, dict):
            raise HttpError(400, "Problems parsing JSON")
        return data

    def number(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise HttpError(404, "Not Found") from None

    def require_repo(self) -> Repo:
        if self.repo is None:
            raise HttpError(404, "Not Found")
        return self.repo


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    auth: str
    permissions: tuple[str, ...]  # any one of them grants the call
    access: str | None  # read | write; None: read for GET, write otherwise


def compile_template(template: str) -> re.Pattern[str]:
    """`/repos/{owner}/{repo}/contents/{path+}`: `{x}` is one segment, `{x+}` the rest."""
    parts = re.split(r"(\{\w+\+?\})", template)
    pattern = "".join(
        (f"(?P<{p[1:-2]}>.+)" if p.endswith("+}") else f"(?P<{p[1:-1]}>[^/]+)")
        if p.startswith("{")
        else re.escape(p)
        for p in parts
    )
    # No trailing slash: GitHub answers `/repos/o/r/pulls/` with 404 (its troubleshooting
    # guide says so).
    return re.compile(f"^{pattern}$")


class Routes:
    """One area's route table, filled by decorators."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        *,
        auth: str = INSTALLATION,
        permission: str | tuple[str, ...] = (),
        access: str | None = None,
    ) -> Callable[[Handler], Handler]:
        names = (permission,) if isinstance(permission, str) else tuple(permission)

        def register(handler: Handler) -> Handler:
            route = Route(
                method, template, compile_template(template), handler, auth, names, access
            )
            self.routes.append(route)
            return handler

        return register

    def get(self, template: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("GET", template, **options)

    def post(self, template: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("POST", template, **options)

    def patch(self, template: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("PATCH", template, **options)

    def put(self, template: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("PUT", template, **options)

    def delete(self, template: str, **options: Any) -> Callable[[Handler], Handler]:
        return self.add("DELETE", template, **options)


def page_bounds(call: Call) -> tuple[int, int]:
    """(page, per_page) from the query, GitHub's defaults and caps applied."""
    try:
        per_page = int(call.query.get("per_page", 30))
        page = int(call.query.get("page", 1))
    except ValueError:
        raise HttpError(422, "Validation Failed") from None
    return max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)


def paginate(
    call: Call,
    items: list[Any],
    wrap: Callable[[list[Any]], Any] | None = None,
) -> Reply:
    """One page of `items` with GitHub's `Link` header (`next`, `last`, `first`, `prev`)."""
    page, per_page = page_bounds(call)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def url(number: int) -> str:
        query = {**call.query, "per_page": str(per_page), "page": str(number)}
        return f"<{call.base_url}{call.path}?{urlencode(query)}>"

    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(min(page - 1, last))}; rel="prev"']
    headers = {"Link": ", ".join(links)} if links else {}
    return Reply(200, wrap(chunk) if wrap else chunk, headers)
