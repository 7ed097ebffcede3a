"""`foureyes audit export`: JSON Lines an outside verifier can check, and OCSF."""

import hashlib
import json

from click.testing import CliRunner
from sqlalchemy.orm import Session

from app.audit.append import append
from app.audit.export import lines
from app.audit.query import STREAM_BATCH
from app.cli import cli
from tests.unit.audit.appender import bulk_append, sample_event


def export(db_url, *args):
    result = CliRunner().invoke(
        cli, ["audit", "export", *args], env={"DATABASE_URL": db_url}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def outside_verifier(documents):
    """What docs/audit.md tells an outsider to do, with nothing from foureyes."""
    prev = "0" * 64
    for n, doc in enumerate(documents, start=1):
        body = {k: v for k, v in doc.items() if k != "hash"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if doc["seq"] != n or doc["prev_hash"] != prev:
            return n
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != doc["hash"]:
            return n
        prev = doc["hash"]
    return None


def test_jsonl_export_is_verifiable_from_outside(engine, db_url):
    append(engine, sample_event(1, reason="naïve ☃ <unicode>", data={"n": 1.5, "list": [1, 2]}))
    for n in range(2, 31):
        append(engine, sample_event(n))
    output = export(db_url, "--format", "jsonl")
    documents = [json.loads(line) for line in output.splitlines()]
    assert [d["seq"] for d in documents] == list(range(1, 31))
    assert outside_verifier(documents) is None
    documents[3]["decision"] = "deny"
    assert outside_verifier(documents) == 4


def test_ocsf_export_maps_the_fields(engine, db_url, tmp_path):
    append(
        engine,
        sample_event(
            1,
            type="token.denied",
            ts="2025-02-03T04:05:06.789000Z",
            actor="alice",
            agent="repo:acme/agents:ref:refs/heads/main",
            subject="token:t1",
            decision="deny",
            reason="administration is never granted",
        ),
    )
    append(engine, sample_event(2, type="gate.evaluated", subject="acme/app#7", decision=None))
    target = tmp_path / "out.ocsf.jsonl"
    export(db_url, "--format", "ocsf", "--output", str(target))
    denied, evaluated = (json.loads(line) for line in target.read_text().splitlines())
    with Session(engine) as session:
        stored = [json.loads(line) for line in lines(session, "jsonl")]
    assert (denied["class_uid"], denied["category_uid"]) == (3003, 3)
    assert (denied["activity_id"], denied["type_uid"]) == (1, 300301)
    assert denied["metadata"]["event_code"] == "token.denied"
    assert denied["time"] == 1738555506789
    assert (denied["status_id"], denied["status"]) == (2, "Failure")
    assert denied["actor"] == {
        "user": {"name": "repo:acme/agents:ref:refs/heads/main", "type_id": 4, "type": "Service"}
    }
    assert denied["unmapped"]["actor"] == "alice"
    assert denied["metadata"]["uid"] == stored[0]["hash"]
    assert denied["metadata"]["sequence"] == 1
    assert denied["unmapped"]["reason"] == "administration is never granted"
    assert denied["unmapped"]["data"] == stored[0]["data"]
    assert (evaluated["class_uid"], evaluated["compliance"]["status"]) == (2003, "Fail")
    assert evaluated["resources"][0] == {"name": "acme/app#7", "type": "pull_request"}


def test_export_since_skips_older_events(engine, db_url):
    append(engine, sample_event(1, ts="2024-01-01T00:00:00Z"))
    append(engine, sample_event(2, ts="2025-06-01T00:00:00Z"))
    output = export(db_url, "--since", "2025-01-01")
    assert [json.loads(line)["seq"] for line in output.splitlines()] == [2]


def test_export_streams_a_log_larger_than_one_batch(engine):
    """More events than one fetch batch come out in order, once each, verifiable, and
    the session keeps none of them."""
    total = STREAM_BATCH * 2 + 7
    bulk_append(engine, total)
    with Session(engine) as session:
        documents = []
        for line in lines(session, "jsonl"):
            documents.append(json.loads(line))
            assert len(session.identity_map) == 0
    assert [d["seq"] for d in documents] == list(range(1, total + 1))
    assert outside_verifier(documents) is None
