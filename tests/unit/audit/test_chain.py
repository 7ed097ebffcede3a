"""The canonical form and hash an outside verifier recomputes, and event validation."""

import hashlib
import json

import pytest

from app.audit.chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
    canonical,
    chained,
    event_hash,
    normalise_event,
)
from tests.unit.audit.appender import sample_event


def test_canonical_form_is_sorted_compact_utf8():
    assert canonical({"b": [1, None, True], "a": "é☃", "c": {"z": 1, "y": 2}}) == (
        '{"a":"é☃","b":[1,null,true],"c":{"y":2,"z":1}}'.encode()
    )


def test_hash_is_sha256_of_the_readme_recipe():
    row = chained(normalise_event(sample_event(1)), 1, GENESIS_HASH)
    # The recipe of docs/audit.md, written out independently of app.audit.chain.
    without_hash = {name: value for name, value in row.items() if name != "hash"}
    text = json.dumps(without_hash, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert set(without_hash) == set(HASHED_FIELDS)
    assert row["prev_hash"] == "0" * 64


def test_every_field_is_covered_by_the_hash():
    row = chained(normalise_event(sample_event(1)), 1, GENESIS_HASH)
    for name in HASHED_FIELDS:
        changed = dict(row)
        changed[name] = "changed" if row[name] != "changed" else "other"
        assert event_hash(changed) != row["hash"], name


def test_timestamps_are_normalised_to_one_utc_form():
    event = normalise_event(sample_event(1, ts="2025-03-04T05:06:07+02:00"))
    assert event["ts"] == "2025-03-04T03:06:07.000000Z"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "token.stolen"}, "unknown audit event type"),
        ({"subject": ""}, "subject"),
        ({"data": {"when": object()}}, "not JSON-serialisable"),
        ({"data": {"x": float("nan")}}, "not JSON-serialisable"),
        ({"data": ["not", "an", "object"]}, "JSON object"),
        ({"installation_id": "7"}, "installation_id"),
        ({"ts": "2025-01-01T00:00:00"}, "no UTC offset"),
        ({"reason": "x" * 2001}, "longer than"),
    ],
)
def test_malformed_events_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        normalise_event(sample_event(1, **fields))


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="unknown audit event fields"):
        normalise_event({**sample_event(1), "hash": "0" * 64})
