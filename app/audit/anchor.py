"""Anchor the chain's head outside the database: signed checkpoints in an append-only file.

The hash chain shows an edited event, but whoever can write the database can rewrite
history and recompute every hash after it. So a scheduled job signs the head,
`{seq, hash, ts}`, with the app's private key (which the database does not hold) and
appends it as one JSON line to `FOUREYES_AUDIT_ANCHOR_PATH`. `foureyes audit verify`
checks each checkpoint's signature and that the log still has that hash at that seq: a
rewritten or truncated history fails. The file belongs where the database's writers
cannot rewrite it (an append-only or object-locked volume, a log shipper); a forged line
needs the key. The job signs only a head that extends the last checkpoint intact, so it
never vouches for a rewritten history either.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.audit.append import head
from app.audit.chain import canonical, format_ts
from app.audit.verify import Anchor, verify

log = structlog.get_logger()


class AnchorError(Exception):
    """The checkpoints cannot be read or trusted: name the line and the reason."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    ts: str
    signature: str  # base64 RSA PKCS#1 v1.5 SHA-256 over the canonical {hash, seq, ts}

    def signed_bytes(self) -> bytes:
        return canonical({"hash": self.hash, "seq": self.seq, "ts": self.ts})

    def to_line(self) -> str:
        body = {"seq": self.seq, "hash": self.hash, "ts": self.ts, "sig": self.signature}
        return json.dumps(body, sort_keys=True) + "\n"

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.seq, self.hash)


def _private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AnchorError("the app's private key is not an RSA key")
    return key


def sign(private_key_pem: str, seq: int, digest: str, moment: datetime) -> Checkpoint:
    unsigned = Checkpoint(seq, digest, format_ts(moment), "")
    raw = _private_key(private_key_pem).sign(
        unsigned.signed_bytes(), padding.PKCS1v15(), hashes.SHA256()
    )
    return Checkpoint(seq, digest, unsigned.ts, base64.b64encode(raw).decode())


def read_checkpoints(path: Path, private_key_pem: str) -> list[Checkpoint]:
    """Every checkpoint in `path`, each signature checked; [] when there is no file."""
    if not path.exists():
        return []
    public = _private_key(private_key_pem).public_key()
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            checkpoint = Checkpoint(int(item["seq"]), str(item["hash"]), item["ts"], item["sig"])
            public.verify(
                base64.b64decode(checkpoint.signature),
                checkpoint.signed_bytes(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise AnchorError(f"{path} line {number}: the signature does not match") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"{path} line {number}: not a checkpoint ({exc})") from exc
        found.append(checkpoint)
    return found


def _append(path: Path, checkpoint: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_line())
        handle.flush()
        os.fsync(handle.fileno())


def anchor_head(engine: Engine, private_key_pem: str, path: Path) -> Checkpoint | None:
    """Sign and publish the chain's head; None when it is already the last checkpoint.

    Raises AnchorError, signing nothing, when the log no longer extends the last
    checkpoint intact (a rewritten history must not be vouched for).
    """
    checkpoints = read_checkpoints(path, private_key_pem)
    last = checkpoints[-1] if checkpoints else None
    with engine.connect() as conn:
        seq, digest = head(conn)
    if last is not None and (last.seq, last.hash) == (seq, digest):
        return None
    with Session(engine) as session:
        # The last checkpoint's hash commits to everything before it: one expected head.
        verdict = verify(session, checkpoints=[last.anchor] if last is not None else [])
    if not verdict.ok or verdict.head.seq < seq:
        log.error("audit.anchor_refused", problem=verdict.describe())
        raise AnchorError(f"not anchoring: {verdict.describe()}")
    checkpoint = sign(private_key_pem, verdict.head.seq, verdict.head.hash, datetime.now(UTC))
    _append(path, checkpoint)
    log.info("audit.anchored", seq=checkpoint.seq, path=str(path))
    return checkpoint
