"""Export the log line by line: JSON Lines of the stored events, or OCSF (app/audit/ocsf.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from sqlalchemy.orm import Session

from app.audit.chain import canonical
from app.audit.ocsf import to_ocsf
from app.audit.query import stream

FORMATS = ("jsonl", "ocsf")


def lines(session: Session, fmt: str, since: datetime | None = None) -> Iterator[str]:
    """The export, one JSON document per line (with its newline), in seq order."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (expected one of {FORMATS})")
    for event in stream(session, since=since):
        document = to_ocsf(event) if fmt == "ocsf" else event
        yield canonical(document).decode("utf-8") + "\n"


def write(session: Session, out: TextIO, fmt: str, since: datetime | None = None) -> int:
    """Write the export to `out` line by line; return the number of events."""
    count = 0
    for line in lines(session, fmt, since):
        out.write(line)
        count += 1
    return count
