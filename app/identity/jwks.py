"""The signing keys of trusted workload-identity issuers: OIDC discovery and JWKS.

Documents are fetched with httpx (short timeouts, a size cap, no redirects) and cached in
the shared state, so every web process uses one copy. A token signed with a key id the
cache does not know triggers a refresh (the issuer rotated its keys), at most once per
`REFRESH_INTERVAL` per issuer across all processes, so forged key ids cannot make
foureyes hammer an issuer.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
import structlog

from app.config import TrustedIssuer, require_secure_url
from app.errors import ConfigError, IdentityError, TransientError
from app.state import SharedState

log = structlog.get_logger()

CACHE_TTL = 3600.0
REFRESH_INTERVAL = 30.0
MAX_DOCUMENT_BYTES = 256 * 1024
TIMEOUT = httpx.Timeout(5.0, connect=3.0)


def fetch_json(client: httpx.Client, url: str) -> dict[str, Any]:
    """GET a JSON object of at most MAX_DOCUMENT_BYTES; TransientError on any failure."""
    try:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise TransientError(f"{url} answered {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise TransientError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise TransientError(f"{url} unreachable: {type(exc).__name__}") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise TransientError(f"{url} is not JSON") from exc
    if not isinstance(document, dict):
        raise TransientError(f"{url} is not a JSON object")
    return document


class IssuerKeys:
    """Finds the public key that signed a token, for each trusted issuer."""

    def __init__(self, state: SharedState) -> None:
        self.state = state

    def _jwks_uri(self, client: httpx.Client, issuer: TrustedIssuer) -> str:
        if issuer.jwks_uri:
            return issuer.jwks_uri
        discovery = fetch_json(
            client, issuer.issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        if discovery.get("issuer") != issuer.issuer:
            raise TransientError(f"discovery of {issuer.issuer} names another issuer")
        uri = discovery.get("jwks_uri")
        if not isinstance(uri, str):
            raise TransientError(f"discovery of {issuer.issuer} has no jwks_uri")
        try:
            require_secure_url(uri, f"jwks_uri of {issuer.issuer}")
        except ConfigError as exc:
            raise TransientError(str(exc)) from exc
        return uri

    def _refresh(self, issuer: TrustedIssuer) -> list[dict[str, Any]]:
        # Fetches are rare (cached for all processes): a client per refresh is cheap.
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            keys = fetch_json(client, self._jwks_uri(client, issuer)).get("keys")
        if not isinstance(keys, list):
            raise TransientError(f"the JWKS of {issuer.issuer} has no keys list")
        keys = [key for key in keys if isinstance(key, dict)]
        self.state.set(f"jwks:{issuer.issuer}", json.dumps(keys), CACHE_TTL)
        log.info("identity.jwks_refreshed", issuer=issuer.issuer, keys=len(keys))
        return keys

    def key_for(self, issuer: TrustedIssuer, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The issuer's key `kid` for `algorithm`; IdentityError when it has none such."""
        cached = self.state.get(f"jwks:{issuer.issuer}")
        keys = json.loads(cached) if cached else None
        found = _select(keys or [], kid)
        if found is None:
            may_refresh = self.state.add_if_absent(
                f"jwks-refresh:{issuer.issuer}", "1", REFRESH_INTERVAL
            )
            if may_refresh:
                keys = self._refresh(issuer)
                found = _select(keys, kid)
            elif keys is None:
                raise TransientError(f"the keys of {issuer.issuer} are not available yet")
        if found is None:
            raise IdentityError(f"the issuer has no signing key {kid!r}")
        if found.get("alg", algorithm) != algorithm:
            raise IdentityError(f"key {kid!r} is not for algorithm {algorithm}")
        try:
            return jwt.PyJWK(found, algorithm=algorithm)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise IdentityError(f"key {kid!r} does not fit algorithm {algorithm}") from exc


def _select(keys: list[dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    """The signing key named `kid`; without a kid, the issuer's only signing key."""
    signing = [key for key in keys if key.get("use", "sig") == "sig"]
    if kid is None:
        return signing[0] if len(signing) == 1 else None
    return next((key for key in signing if key.get("kid") == kid), None)
