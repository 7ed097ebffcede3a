"""Held tokens are encrypted at rest and open only with the app's key and their own id."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.identity.vault import TokenVault


def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_a_held_token_is_stored_encrypted_and_comes_back(state):
    key = pem()
    vault = TokenVault(state, key)
    vault.hold("t1", "ghs_secretsecretsecretsecret", 60)
    stored = state.get("held-token:t1")
    assert stored is not None and "ghs_" not in stored and "secret" not in stored
    # Another process with the same app key opens it.
    assert TokenVault(state, key).take("t1") == "ghs_secretsecretsecretsecret"
    vault.release("t1")
    assert vault.take("t1") is None


def test_another_key_or_another_id_cannot_open_it(state):
    key = pem()
    TokenVault(state, key).hold("t1", "ghs_secretsecretsecretsecret", 60)
    assert TokenVault(state, pem()).take("t1") is None
    state.set("held-token:t2", state.get("held-token:t1"), 60)
    assert TokenVault(state, key).take("t2") is None
