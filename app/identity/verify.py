"""Verify a workload-identity JWT (GitHub Actions OIDC, SPIFFE JWT-SVID, any OIDC issuer).

Only asymmetric signatures from a trusted issuer's published keys are accepted; `exp`,
`iat`, `iss`, `aud` and `sub` are required, with at most 60 s of clock leeway. A token is
good for one request: what it says is remembered until it expires, so a stolen token
cannot be replayed to mint again. The replay key is made of the verified claims, never of
the token's text: one signature has many encodings that verify (base64url padding, the
spare bits of its last character), and each would otherwise be a fresh token.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from app.config import TrustedIssuer
from app.errors import IdentityError
from app.identity.jwks import IssuerKeys
from app.state import SharedState

ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
)
LEEWAY = 60
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
MAX_JWT_CHARS = 16 * 1024


@dataclass(frozen=True)
class WorkloadIdentity:
    """A proven workload: who issued it, who it is, and everything else it claims."""

    issuer: str
    subject: str
    expires_at: float
    replay_key: str = field(repr=False)
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def agent(self) -> str:
        """How the audit names the agent: `<issuer> <subject>`."""
        return f"{self.issuer} {self.subject}"

    @property
    def actor(self) -> str | None:
        value = self.claims.get("actor")
        return value if isinstance(value, str) and value else None

    @property
    def on_behalf_of(self) -> str | None:
        """The human the agent works for: `on_behalf_of`, else GitHub Actions' `actor`."""
        value = self.claims.get("on_behalf_of")
        if isinstance(value, str) and value:
            return value
        return self.actor


def verify_workload_jwt(
    token: str,
    issuers: tuple[TrustedIssuer, ...],
    default_audience: str,
    keys: IssuerKeys,
) -> WorkloadIdentity:
    """The identity `token` proves, or IdentityError saying why it proves nothing.

    Does not consume the token: call `consume_once` before acting on it.
    """
    if not token or len(token) > MAX_JWT_CHARS:
        raise IdentityError("no bearer token, or one too large")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise IdentityError("the bearer token is not a JWT") from exc
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise IdentityError(f"algorithm {algorithm!r} is not accepted (asymmetric only)")
    issuer = next((i for i in issuers if i.issuer == unverified.get("iss")), None)
    if issuer is None:
        raise IdentityError("the token's issuer is not trusted")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise IdentityError("the token's key id is not a string")
    key = keys.key_for(issuer, kid, algorithm)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=issuer.audience or default_audience,
            issuer=issuer.issuer,
            leeway=LEEWAY,
            options={"require": REQUIRED_CLAIMS, "verify_signature": True},
        )
    except jwt.PyJWTError as exc:
        raise IdentityError(f"the token is not valid: {exc}") from exc
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise IdentityError("the token's subject is empty")
    if not isinstance(claims["exp"], int | float):
        raise IdentityError("the token's exp is not a number")
    return WorkloadIdentity(
        issuer=issuer.issuer,
        subject=subject,
        expires_at=float(claims["exp"]),
        replay_key=replay_key(issuer.issuer, claims),
        claims=claims,
    )


def replay_key(issuer: str, claims: Mapping[str, Any]) -> str:
    """What makes a verified token the same token: the issuer, the subject and its `jti`;
    without a `jti`, its `iat`, `exp` and the digest of every claim it makes."""
    jti = claims.get("jti")
    if isinstance(jti, str) and jti:
        said: list[Any] = [issuer, claims["sub"], "jti", jti]
    else:
        canonical = json.dumps(claims, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        said = [issuer, claims["sub"], "iat", claims.get("iat"), claims["exp"], digest]
    return "jti:" + hashlib.sha256(json.dumps(said, default=str).encode()).hexdigest()


def consume_once(state: SharedState, identity: WorkloadIdentity) -> None:
    """Accept each token once while it lives; IdentityError on a replay."""
    ttl = max(identity.expires_at + LEEWAY - time.time(), 1.0)
    if not state.add_if_absent(identity.replay_key, "1", ttl):
        raise IdentityError("the token was already used (replay)")
