"""Holding minted tokens until foureyes revokes them, without storing them in the clear.

Revoking an installation token early (`DELETE /installation/token`) needs the token
itself, so foureyes must keep it until the TTL it granted runs out. It is kept encrypted
in the shared state (Redis, or the SQL fallback table) with AES-256-GCM under a key
derived (HKDF-SHA256) from the app's private key, which never enters the database, the
broker or the logs. The entry expires by itself when GitHub's own expiry makes the token
worthless. The token id is the associated data, so a ciphertext cannot be replayed as
another token's. The database and the audit trail hold only the token's SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.state import SharedState

INFO = b"foureyes token vault v1"
NONCE_BYTES = 12


def token_sha256(token: str) -> str:
    """What the database and the audit trail hold instead of a token (invariant 7)."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenVault:
    """Sealed tokens in the shared state under `<namespace>:<id>`: agents' tokens awaiting
    revocation (`held-token`), and the app's own installation tokens (`itoken`,
    `app.github.client`), which are worth as much to whoever reads the shared state."""

    def __init__(
        self, state: SharedState, private_key_pem: str, namespace: str = "held-token"
    ) -> None:
        self.state = state
        self.namespace = namespace
        self._aead = AESGCM(
            HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
                private_key_pem.strip().encode()
            )
        )

    def _key(self, token_id: str) -> str:
        return f"{self.namespace}:{token_id}"

    def hold(self, token_id: str, token: str, ttl: float) -> None:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, token.encode(), token_id.encode())
        self.state.set(self._key(token_id), base64.urlsafe_b64encode(sealed).decode(), ttl)

    def take(self, token_id: str) -> str | None:
        """The held token, or None when it is gone (expired) or cannot be opened."""
        stored = self.state.get(self._key(token_id))
        if stored is None:
            return None
        try:
            sealed = base64.urlsafe_b64decode(stored.encode())
            plain = self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], token_id.encode()
            )
        except (InvalidTag, ValueError):
            # Not sealed by this key (another key, or a value written in the clear).
            return None
        return plain.decode()

    def release(self, token_id: str) -> None:
        self.state.delete(self._key(token_id))
