"""The only code that authenticates to GitHub: the app JWT, installation tokens, clients.

GitHub takes the app's JWT only as `Authorization: Bearer <JWT>` (a JWT sent as
`token <JWT>` is 401): app-level calls go through githubkit's `AppAuthStrategy`, which
signs and sends it so. Installation tokens go as `token <token>`, as githubkit sends them.
Installation tokens are shared by every process through the shared state until shortly
before they expire, sealed there as agents' tokens are (`app.identity.vault`). Clients
do not sleep on rate limits: they raise `TransientError` with GitHub's retry-after, and
Celery tasks defer themselves with a countdown.
"""

from __future__ import annotations

import functools
import json
import random
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from githubkit import AppAuthStrategy, BaseAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from githubkit.retry import RetryOption

from app import metrics
from app.config import Settings
from app.errors import ConfigError, GoneError, TransientError
from app.identity.vault import TokenVault
from app.state import SharedState

# Refresh an installation token this long before GitHub's expiry (tokens live 1 hour).
TOKEN_REFRESH_MARGIN = 300
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _quick_retry(exc: GitHubException, retry_count: int) -> RetryOption:
    """Retry a 5xx or a dropped connection twice, briefly; longer waits are the task's job.

    `RequestFailed` (any answered error) is a `RequestError` too: only its 5xx are worth
    a quick retry, never a 4xx or a rate limit. A timeout is not retried here either: a
    slow GitHub would hold the worker for three timeouts; the task defers instead.
    """
    if isinstance(exc, RequestFailed):
        transient = exc.response.status_code >= 500 and not isinstance(exc, RateLimitExceeded)
    else:
        transient = isinstance(exc, RequestError) and not isinstance(exc, RequestTimeout)
    if transient and retry_count < 2:
        return RetryOption(True, timedelta(seconds=0.2 * (2**retry_count) + random.random() * 0.1))  # noqa: S311
    return RetryOption(False)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's verifying TLS context (certifi's CAs), built once per process.

    Every client would otherwise load the CA bundle again: about 50 ms of CPU per
    evaluation, half of a warm evaluation's time (see docs/benchmarks.md).
    """
    return httpx.create_ssl_context()


def _count_request(response: httpx.Response) -> None:
    metrics.record_github_response(response)


class GitHubApp:
    """Authenticates as the app and as its installations; builds githubkit clients."""

    def __init__(self, settings: Settings, state: SharedState) -> None:
        if settings.app_id is None or not settings.private_key:
            raise ConfigError("APP_ID and PRIVATE_KEY are required to talk to GitHub")
        self.settings = settings
        self.state = state
        self.base_url = settings.github_api_url

    @functools.cached_property
    def _app_auth(self) -> AppAuthStrategy:
        return AppAuthStrategy(str(self.settings.app_id), str(self.settings.private_key))

    @functools.cached_property
    def _jwt_cache(self) -> MemCacheStrategy:
        """Where githubkit keeps this app's JWT (8 of its 10 minutes): signing with the PEM
        for every call was most of a token request's CPU (docs/benchmarks.md). One cache per
        app object, not githubkit's process-wide default, which keys JWTs by app id alone:
        two apps with one id and different keys (a key rotation, the tests' simulators)
        would share a JWT that only one of them signed."""
        return MemCacheStrategy()

    def _client(
        self, auth: str | BaseAuthStrategy, *on_response: Callable[[httpx.Response], None]
    ) -> GitHub:
        return GitHub(
            auth,
            base_url=self.base_url,
            cache_strategy=self._jwt_cache,
            timeout=TIMEOUT,
            http_cache=False,
            ssl_verify=tls_context(),
            auto_retry=_quick_retry,
            user_agent="foureyes",
            event_hooks={"response": [_count_request, *on_response]},
        )

    def as_app(self) -> GitHub:
        """A client for the app-level endpoints (`/app/**`, `/repos/{o}/{r}/installation`)."""
        return self._client(self._app_auth)

    def bot_login(self) -> str:
        """The login of the app's own bot account (`<slug>[bot]`), cached for a day."""
        slug = self.state.get("app:slug")
        if slug is None:
            app_client = self.as_app()  # githubkit's namespaces hold only a weak reference
            with github_errors():
                slug = app_client.rest.apps.get_authenticated().json()["slug"]
            self.state.set("app:slug", slug, 86400)
        return f"{slug}[bot]"

    @functools.cached_property
    def _installation_tokens(self) -> TokenVault:
        """Installation tokens sealed like agents' tokens (AES-GCM, a key derived from the
        app's private key): whoever reads the shared state learns nothing usable."""
        return TokenVault(self.state, str(self.settings.private_key), namespace="itoken")

    @staticmethod
    def _sealed_id(installation_id: int) -> str:
        # Never a token id (hex): a sealed value cannot pass for another namespace's.
        return f"installation-{installation_id}"

    def installation_token(self, installation_id: int) -> str:
        """The installation's token, shared across processes until shortly before expiry."""
        cached = self._installation_tokens.take(self._sealed_id(installation_id))
        if cached:
            return cached
        app_client = self.as_app()  # githubkit's namespaces hold only a weak reference
        with github_errors():
            response = app_client.rest.apps.create_installation_access_token(installation_id)
        data = response.json()
        expires_at = parse_time(data["expires_at"])
        ttl = (expires_at - datetime.now(UTC)).total_seconds() - TOKEN_REFRESH_MARGIN
        if ttl > 0:
            self._installation_tokens.hold(self._sealed_id(installation_id), data["token"], ttl)
        return data["token"]

    def forget_installation_token(self, installation_id: int) -> None:
        """Drop a token GitHub refused (revoked, or the installation changed)."""
        self._installation_tokens.release(self._sealed_id(installation_id))

    def for_installation(self, installation_id: int) -> GitHub:
        """A client with the installation's shared token. A token GitHub refuses (401:
        revoked, or the installation changed) is forgotten at once, so the task's retry
        mints a new one instead of failing on the cached one until it expires."""

        def forget_refused(response: httpx.Response) -> None:
            if response.status_code == 401:
                self.forget_installation_token(installation_id)

        return self._client(self.installation_token(installation_id), forget_refused)

    def mint_token(
        self, installation_id: int, repository: str, permissions: dict[str, str]
    ) -> dict[str, Any]:
        """A fresh installation token for one repository and exactly `permissions`.

        Never cached: it is handed to an agent. Returns GitHub's response body.
        """
        name = repository.split("/", 1)[1]
        app_client = self.as_app()  # githubkit's namespaces hold only a weak reference
        with github_errors():
            response = app_client.rest.apps.create_installation_access_token(
                installation_id, repositories=[name], permissions=permissions
            )
        return response.json()

    def revoke_token(self, token: str) -> None:
        """Revoke an installation token (`DELETE /installation/token`); gone is fine."""
        client = self._client(token)  # githubkit's namespaces hold only a weak reference
        with github_errors(gone_ok=True):
            client.rest.apps.revoke_installation_access_token()

    def repository_installation(self, repository: str) -> int:
        """The installation id of the app on `owner/repo` (GoneError when not installed)."""
        owner, name = repository.split("/", 1)
        app_client = self.as_app()  # githubkit's namespaces hold only a weak reference
        with github_errors():
            response = app_client.rest.apps.get_repo_installation(owner, name)
        return int(response.json()["id"])


@contextmanager
def github_errors(gone_ok: bool = False) -> Iterator[None]:
    """Translate githubkit's exceptions into foureyes' domain errors."""
    try:
        yield
    except RateLimitExceeded as exc:
        raise TransientError(
            f"GitHub rate limit on {exc.request.method} {exc.request.url.path}",
            retry_after=exc.retry_after.total_seconds(),
        ) from exc
    except RequestFailed as exc:
        status = exc.response.status_code
        path = exc.request.url.path
        if status in (404, 410) or (status == 401 and gone_ok):
            # gone_ok with 401: a revoked or expired token cannot authenticate its own
            # revocation; it is dead, which is what was asked.
            if gone_ok:
                return
            raise GoneError(f"GitHub answered {status} for {path}") from exc
        if status == 401:
            # Refused credentials: an installation token revoked meanwhile (forgotten by
            # the client's hook, so the retry mints a new one), or a key GitHub no longer
            # accepts (the retries run out, and the evaluation fails closed saying so).
            raise TransientError(f"GitHub refused foureyes' credentials (401) for {path}") from exc
        if status == 403 and "suspended" in exc.response.text.lower():
            # A suspended installation is gone until it is unsuspended (which re-evaluates).
            raise GoneError(f"GitHub answered 403 for {path}: installation suspended") from exc
        if status >= 500 or status == 429:
            raise TransientError(f"GitHub answered {status} for {path}") from exc
        raise
    except (RequestTimeout, RequestError) as exc:
        raise TransientError(f"GitHub unreachable: {exc}") from exc


def conditional_get(
    gh: GitHub, state: SharedState, url: str, *, accept: str | None = None, ttl: float = 86400
) -> tuple[int, str]:
    """GET `url` with the ETag remembered in shared state; a 304 costs no rate limit.

    Returns (status, body): status is 200 (fresh), 304 (served from cache) or 404.
    """
    key = f"etag:{url}:{accept or ''}"
    cached = state.get(key)
    headers = {"Accept": accept} if accept else {}
    entry = json.loads(cached) if cached else None
    if entry:
        headers["If-None-Match"] = entry["etag"]
    try:
        with github_errors():
            response = gh.request("GET", url, headers=headers)
    except GoneError:
        return 404, ""
    if response.status_code == 304 and entry:
        return 304, entry["body"]
    body = response.text
    etag = response.headers.get("etag")
    if etag:
        state.set(key, json.dumps({"etag": etag, "body": body}), ttl)
    return response.status_code, body


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
