"""The demo's workload-identity issuer: an OIDC discovery document and a JWKS served on
127.0.0.1, and RS256 JWTs signed with its key, as an agent's platform would issue them.

The demo's issuer has a fixed name (`DEMO_ISSUER`) while it listens on a port of the
moment, so the agent's identity (`issuer subject`) reads the same in every run; foureyes
trusts it with the JWKS address given (`trusted`), as FOUREYES_TRUSTED_ISSUERS allows."""

from __future__ import annotations

import json
import threading
import time
import uuid
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

KID = "demo-1"
# What the demo's tokens carry as `iss`: no port in it, so the same in every run.
DEMO_ISSUER = "http://127.0.0.1/demo-issuer"


class LoopbackIssuer:
    """An OIDC issuer on 127.0.0.1 serving JSON documents from `document(path, headers)`:
    the base of the demo's issuer and of the tests' richer one (`tests/oidc.py`)."""

    def __init__(self, issuer: str | None = None) -> None:
        self._issuer = issuer
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )

    @property
    def address(self) -> str:
        """Where it listens: the base of its discovery document and its JWKS."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The issuer (`iss`): the name given, else its address."""
        return self._issuer or self.address

    @property
    def jwks_uri(self) -> str:
        return f"{self.address}/jwks"

    @property
    def trusted(self) -> dict[str, str]:
        """Its entry in FOUREYES_TRUSTED_ISSUERS."""
        return {"issuer": self.url, "jwks_uri": self.jwks_uri}

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def jwks(self) -> dict[str, Any]:
        raise NotImplementedError

    def document(self, path: str, headers: Message) -> dict[str, Any] | None:
        """The JSON answer for `path` (None: 404): discovery and the JWKS."""
        if path == "/.well-known/openid-configuration":
            return {"issuer": self.url, "jwks_uri": self.jwks_uri}
        if path == "/jwks":
            return self.jwks()
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = issuer.document(self.path, self.headers)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        return Handler


class DemoIssuer(LoopbackIssuer):
    """`with DemoIssuer() as issuer: issuer.token("agent", audience=url)`; its `iss` is
    DEMO_ISSUER unless `issuer` names another."""

    def __init__(self, issuer: str = DEMO_ISSUER) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        super().__init__(issuer)

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    def token(self, subject: str, *, audience: str, **claims: Any) -> str:
        """A five-minute JWT for `subject`; `claims` such as `on_behalf_of` are added."""
        now = int(time.time())
        payload = {
            "iss": self.url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": KID})
