"""An OIDC workload-identity issuer for tests: discovery and JWKS served over loopback HTTP.

    with OidcIssuer() as issuer:
        jwt = issuer.token(github_actions_claims("acme/agents"), audience="http://localhost:3000")

It signs with RSA (`RS256`/`PS256`...), EC P-256 (`ES256`) or Ed25519 (`EdDSA`) keys it
publishes, can rotate to a new key, and records every path it served so tests can count
discovery and JWKS fetches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from app.demo.issuer import LoopbackIssuer

GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"


def _family(algorithm: str) -> str:
    if algorithm.startswith(("RS", "PS")):
        return "RSA"
    if algorithm.startswith("ES"):
        return "EC"
    return "OKP"


class OidcIssuer(LoopbackIssuer):
    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, Any]] = {}  # kid -> (family, private key)
        self._current: dict[str, str] = {}  # family -> kid used to sign
        self.requests: list[str] = []
        for family in ("RSA", "EC", "OKP"):
            self.rotate(family)
        super().__init__()

    def rotate(self, family: str = "RSA") -> str:
        """Publish a new key of `family` and sign with it from now on; returns its kid."""
        kid = f"{family.lower()}-{len(self._keys) + 1}"
        if family == "RSA":
            key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif family == "EC":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            key = ed25519.Ed25519PrivateKey.generate()
        self._keys[kid] = (family, key)
        self._current[family] = kid
        return kid

    def private_key(self, algorithm: str = "RS256") -> Any:
        return self._keys[self._current[_family(algorithm)]][1]

    def public_pem(self, algorithm: str = "RS256") -> bytes:
        from cryptography.hazmat.primitives import serialization

        return (
            self.private_key(algorithm)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, (family, key) in self._keys.items():
            exporter = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}[family]
            jwk = exporter.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def claims(self, claims: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
        """The payload `token` would sign: this issuer, the default audience, 5 minutes."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url,
            "sub": "spiffe://example.org/agent",
            "aud": "http://localhost:3000",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            **(claims or {}),
            **overrides,
        }
        return {name: value for name, value in payload.items() if value is not None}

    def forged_alg_none(self, claims: dict[str, Any] | None = None) -> str:
        """An unsigned token (`alg: none`) with otherwise perfect claims."""
        header = {"alg": "none", "typ": "JWT", "kid": self._current["RSA"]}
        return f"{_b64json(header)}.{_b64json(self.claims(claims))}."

    def forged_hs256(self, claims: dict[str, Any] | None = None) -> str:
        """Key confusion: HS256 with the issuer's public RSA key (PEM) as the HMAC secret."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self._current["RSA"]}
        unsigned = f"{_b64json(header)}.{_b64json(self.claims(claims))}"
        mac = hmac.new(self.public_pem(), unsigned.encode(), hashlib.sha256).digest()
        return f"{unsigned}.{_b64(mac)}"

    def token(
        self,
        claims: dict[str, Any] | None = None,
        *,
        audience: str | None = "http://localhost:3000",
        subject: str | None = None,
        lifetime: int = 300,
        algorithm: str = "RS256",
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        """A signed JWT from this issuer; `overrides` replace or (with None) drop claims."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url,
            "sub": subject or "spiffe://example.org/agent",
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            **(claims or {}),
        }
        if subject is not None:
            payload["sub"] = subject
        for name, value in overrides.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        if payload.get("aud") is None:
            payload.pop("aud", None)
        signing_kid = kid or self._current[_family(algorithm)]
        return jwt.encode(
            payload,
            self._keys[self._current[_family(algorithm)]][1],
            algorithm=algorithm,
            headers={"kid": signing_kid},
        )

    @property
    def actions_url(self) -> str:
        """Like `ACTIONS_ID_TOKEN_REQUEST_URL` (GitHub appends `&audience=`, so it has a `?`)."""
        return f"{self.url}/actions/token?api-version=2.0"

    actions_request_token = "actions-runtime-token"

    def _actions_token(self, path: str, authorization: str | None) -> dict[str, Any]:
        """GitHub Actions' OIDC token endpoint: a token for the asked audience."""
        if authorization != f"bearer {self.actions_request_token}":
            return {"error": "bad runtime token"}
        audience = parse_qs(urlsplit(path).query).get("audience", [None])[0]
        return {"value": self.token(github_actions_claims(), audience=audience)}

    def document(self, path: str, headers: Message) -> dict[str, Any] | None:
        """Discovery and the JWKS, plus GitHub Actions' token endpoint; records each path."""
        self.requests.append(path)
        if path.startswith("/actions/token?"):
            return self._actions_token(path, headers.get("Authorization"))
        return super().document(path, headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(data: dict[str, Any]) -> str:
    return _b64(json.dumps(data).encode())


def github_actions_claims(
    repository: str = "acme/agents",
    *,
    ref: str = "refs/heads/main",
    actor: str = "alice",
    immutable: bool = False,
    workflow: str = "agent.yml",
) -> dict[str, Any]:
    """The claims of a GitHub Actions OIDC token; `immutable` uses the
    `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` subject format."""
    owner, name = repository.split("/", 1)
    subject = (
        f"repo:{owner}@1001/{name}@2002:ref:{ref}" if immutable else f"repo:{repository}:ref:{ref}"
    )
    return {
        "sub": subject,
        "repository": repository,
        "repository_owner": owner,
        "repository_id": "2002",
        "repository_owner_id": "1001",
        "ref": ref,
        "actor": actor,
        "actor_id": "3003",
        "workflow": workflow,
        "job_workflow_ref": f"{repository}/.github/workflows/{workflow}@{ref}",
        "event_name": "workflow_dispatch",
        "run_id": "123456",
    }
