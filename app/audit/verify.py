"""Check the hash chain: every event's hash, its link to the one before, gapless seqs,
and optionally an anchor (a head recorded earlier) so that a truncated tail shows."""

from __future__ import annotations

from collections.abc import Iterable
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


def verify_rows(rows: Iterable[dict[str, Any]], expect_head: Anchor | None = None) -> Verdict:
    """Walk `rows` (dicts of HASHED_FIELDS and `hash`) in seq order; stop at the first fault."""
    good = Anchor(0, GENESIS_HASH)
    anchor_seen = expect_head is None or expect_head.seq == 0
    count = 0

    def broken(seq: int, problem: str) -> Verdict:
        return Verdict(False, count, good, seq, problem)

    for row in rows:
        expected = good.seq + 1
        if row["seq"] != expected:
            if row["seq"] > expected:
                return broken(expected, f"missing (the next event has seq {row['seq']})")
            return broken(expected, f"out of order (found seq {row['seq']})")
        if row["prev_hash"] != good.hash:
            return broken(expected, "prev_hash does not match the previous event's hash")
        if event_hash(row) != row["hash"]:
            return broken(expected, "the hash does not match the event's content")
        good = Anchor(expected, row["hash"])
        count += 1
        if expect_head is not None and expected == expect_head.seq:
            if good.hash != expect_head.hash:
                return broken(expected, "the hash differs from the expected head")
            anchor_seen = True
    if expect_head is not None and expect_head.seq == 0 and expect_head.hash != GENESIS_HASH:
        return broken(0, "the expected head at seq 0 must be 64 zeros")
    if expect_head is not None and not anchor_seen:
        return broken(
            good.seq + 1,
            f"missing: the log ends at seq {good.seq} but the expected head is "
            f"seq {expect_head.seq} (truncated)",
        )
    return Verdict(True, count, good)


def verify(session: Session, expect_head: Anchor | None = None) -> Verdict:
    """Verify the whole log in the database, streaming (constant memory)."""
    return verify_rows(stream(session), expect_head)
