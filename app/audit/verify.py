"""Check the hash chain: every event's hash, its link to the one before, gapless seqs,
and optionally anchors (heads recorded earlier: by an operator, or the signed checkpoints
of `app.audit.anchor`) so that a rewritten or truncated history shows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.audit.chain import GENESIS_HASH, event_hash
from app.audit.query import stream

HASH_LENGTH = 64


@dataclass(frozen=True)
class Anchor:
    """A head an operator recorded: the event `seq` had hash `hash`."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """`SEQ:HASH`, as `foureyes audit verify` prints it."""
        seq, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if (
            not sep
            or not seq.isdigit()
            or len(digest) != HASH_LENGTH
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise ValueError(f"expected SEQ:HASH (a number and 64 hex digits), got {text!r}")
        return cls(int(seq), digest)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int  # events checked
    head: Anchor  # the last good event (seq 0 and 64 zeros for an empty log)
    bad_seq: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit log intact: {self.count} events, head {self.head.seq}:{self.head.hash}"
        return f"audit log broken at seq {self.bad_seq}: {self.problem}"


def verify_rows(
    rows: Iterable[dict[str, Any]],
    expect_head: Anchor | None = None,
    checkpoints: Sequence[Anchor] = (),
) -> Verdict:
    """Walk `rows` (dicts of HASHED_FIELDS and `hash`) in seq order; stop at the first fault.

    `expect_head` and each of `checkpoints` name a hash the event at their seq must still
    have, and a seq the log must still reach.
    """
    expected: dict[int, tuple[str, str]] = {}
    for anchor in checkpoints:
        if expected.get(anchor.seq, (anchor.hash,))[0] != anchor.hash:
            return Verdict(False, 0, Anchor(0, GENESIS_HASH), anchor.seq, "two checkpoints differ")
        expected[anchor.seq] = (anchor.hash, "the signed checkpoint: history was rewritten")
    if expect_head is not None:
        expected[expect_head.seq] = (expect_head.hash, "the expected head")
    good = Anchor(0, GENESIS_HASH)
    count = 0

    def broken(seq: int, problem: str) -> Verdict:
        return Verdict(False, count, good, seq, problem)

    if 0 in expected and expected[0][0] != GENESIS_HASH:
        return broken(0, f"{expected[0][1]} at seq 0 must be 64 zeros")
    for row in rows:
        seq = good.seq + 1
        if row["seq"] != seq:
            if row["seq"] > seq:
                return broken(seq, f"missing (the next event has seq {row['seq']})")
            return broken(seq, f"out of order (found seq {row['seq']})")
        if row["prev_hash"] != good.hash:
            return broken(seq, "prev_hash does not match the previous event's hash")
        if event_hash(row) != row["hash"]:
            return broken(seq, "the hash does not match the event's content")
        good = Anchor(seq, row["hash"])
        count += 1
        if seq in expected and good.hash != expected[seq][0]:
            return broken(seq, f"the hash differs from {expected[seq][1]}")
    beyond = [seq for seq in expected if seq > good.seq]
    if beyond:
        seq = max(beyond)
        return broken(
            good.seq + 1,
            f"missing: the log ends at seq {good.seq} but {expected[seq][1].split(':')[0]} "
            f"is seq {seq} (truncated)",
        )
    return Verdict(True, count, good)


def verify(
    session: Session, expect_head: Anchor | None = None, checkpoints: Sequence[Anchor] = ()
) -> Verdict:
    """Verify the whole log in the database, streaming (constant memory)."""
    return verify_rows(stream(session), expect_head, checkpoints)
