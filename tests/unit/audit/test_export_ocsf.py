"""`foureyes audit export --format ocsf`: every event type is valid against the official
OCSF schema of its class (the `ocsf-json-schema` package ships them offline)."""

from __future__ import annotations

import json
from functools import cache

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from app.audit.chain import EVENT_TYPES
from app.audit.emit import emit
from app.audit.ocsf import OCSF_VERSION, to_ocsf
from app.cli import cli
from tests.unit.audit.ocsf_events import AGENT, EVENTS


@cache
def ocsf_schema() -> OcsfJsonSchemaEmbedded:
    return OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))


def schema_errors(document: dict) -> list[str]:
    """Every violation of the class schema, with the profiles the event declares."""
    schema = ocsf_schema()
    name = schema.lookup_class_name_from_uid(document["class_uid"])
    profiles = document["metadata"].get("profiles", [])
    validator = Draft202012Validator(schema.get_class_schema(name, profiles))
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@pytest.fixture
def exported(flask_app, sqlite_url) -> dict[str, dict]:
    """Each event type emitted through `emit` and the audit job, exported through the CLI."""
    with flask_app.app_context():
        for kind, fields in EVENTS.items():
            emit(kind, **fields)
    result = CliRunner().invoke(
        cli, ["audit", "export", "--format", "ocsf"], env={"DATABASE_URL": sqlite_url}
    )
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    return {doc["metadata"]["event_code"]: doc for doc in documents}


def test_every_event_type_has_a_realistic_sample():
    assert set(EVENTS) == EVENT_TYPES


def test_every_exported_event_type_is_valid_ocsf(exported):
    assert set(exported) == EVENT_TYPES
    invalid = {kind: schema_errors(doc) for kind, doc in exported.items() if schema_errors(doc)}
    assert invalid == {}
    assert {doc["metadata"]["version"] for doc in exported.values()} == {OCSF_VERSION}


def test_the_validator_refuses_what_the_old_export_did(exported):
    """The schema check is not vacuous: the four faults of the OCSF 1.1 export fail it."""
    issued = exported["token.issued"]
    assert schema_errors({**issued, "cloud": {"provider": "GitHub"}})
    assert schema_errors({**issued, "actor": {}})
    api = exported["webhook.received"]
    assert schema_errors({key: value for key, value in api.items() if key != "src_endpoint"})
    old_actor = {"user": {"name": "alice"}, "app_name": AGENT}
    old_version = {**api, "actor": old_actor, "metadata": {**api["metadata"], "version": "1.1.0"}}
    assert schema_errors(old_version) == []  # 1.8.0's schema has app_name; 1.1.0's has not:
    old = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.1.0"))
    validator = Draft202012Validator(old.get_class_schema("api_activity", []))
    assert any("app_name" in error.message for error in validator.iter_errors(old_version))


def test_each_type_lands_in_its_class_and_activity(exported):
    classes = {kind: (doc["class_uid"], doc["activity_id"]) for kind, doc in exported.items()}
    assert classes == {
        "webhook.received": (6003, 1),
        "check.published": (6003, 3),
        "deployment.approved": (6003, 3),
        "deployment.rejected": (6003, 3),
        "token.issued": (3003, 1),
        "token.denied": (3003, 1),
        "token.revoked": (3002, 2),
        "escalation.requested": (3005, 99),
        "escalation.approved": (3005, 1),
        "escalation.denied": (3005, 1),
        "push.flagged": (2004, 1),
        "workflow_run.flagged": (2004, 1),
        "workflow_run.cancelled": (2004, 1),
        "gate.evaluated": (2003, 1),
        "policy.invalid": (2003, 1),
        "config.drift": (2003, 1),
    }
    for doc in exported.values():
        assert doc["type_uid"] == doc["class_uid"] * 100 + doc["activity_id"]


def test_who_acted_and_for_whom(exported):
    """The agent acts for its tokens and requests (the human stays findable); a human acts
    for approvals; foureyes itself for what it does on its own."""
    issued = exported["token.issued"]
    assert issued["actor"] == {"user": {"name": AGENT, "type_id": 4, "type": "Service"}}
    assert issued["user"]["name"] == AGENT
    assert issued["privileges"] == ["contents:write", "pull_requests:write"]
    assert issued["session"] == {"uid": "t1"}
    assert issued["unmapped"]["actor"] == "alice"
    denied = exported["token.denied"]
    assert (denied["status_id"], denied["status"], denied["privileges"]) == (2, "Failure", [])
    assert denied["message"] == "administration is never granted to an agent"
    approved = exported["escalation.approved"]
    assert approved["actor"]["user"]["name"] == "bob"
    assert (approved["user"]["name"], approved["privileges"]) == (AGENT, ["workflows:write"])
    assert exported["escalation.denied"]["status_id"] == 2
    assert exported["check.published"]["actor"] == {"app_name": "foureyes"}
    webhook = exported["webhook.received"]
    assert (webhook["actor"]["user"]["name"], webhook["src_endpoint"]) == (
        "alice",
        {"name": "GitHub"},
    )
    senderless = to_ocsf(
        {
            "seq": 1,
            "ts": "2025-01-01T00:00:00.000000Z",
            "type": "webhook.received",
            "installation_id": 7,
            "repository": None,
            "actor": None,
            "agent": None,
            "subject": "installation:7",
            "decision": None,
            "reason": None,
            "data": {"event": "installation", "action": "created"},
            "key": "webhook.received:d-2",
            "prev_hash": "0" * 64,
            "hash": "1" * 64,
        }
    )
    assert senderless["actor"] == {"app_name": "GitHub"}
    assert schema_errors(senderless) == []
    revoked = exported["token.revoked"]
    assert (revoked["session"], revoked["user"]["name"]) == ({"uid": "t1"}, AGENT)
    assert revoked["actor"] == {"app_name": "foureyes"}


def test_findings_say_what_failed_and_how_badly(exported):
    drift = exported["config.drift"]
    assert drift["compliance"]["status"] == "Fail"
    assert (drift["severity_id"], drift["severity"]) == (4, "High")
    assert drift["finding_info"]["uid"] == drift["metadata"]["uid"]
    gate = exported["gate.evaluated"]
    assert gate["compliance"]["status_detail"] == "action_required"
    assert gate["resources"][0] == {"name": "acme/app#7", "type": "pull_request"}
    cancelled = exported["workflow_run.cancelled"]
    assert cancelled["severity"] == "Medium"
    assert cancelled["finding_info"]["types"] == ["workflow_run.cancelled"]
    assert cancelled["unmapped"]["agent"] == AGENT


def test_the_demos_whole_log_exports_as_valid_ocsf(tmp_path):
    """The real code paths: the demo's story (webhooks, evaluations, check runs, tokens,
    a rejected deployment, an escalation) exported from the log it leaves behind."""
    from app.demo import run_demo

    run_demo(lambda line: None, workdir=tmp_path)
    result = CliRunner().invoke(
        cli,
        ["audit", "export", "--format", "ocsf"],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}"},
    )
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = {doc["metadata"]["event_code"] for doc in documents}
    assert {"webhook.received", "gate.evaluated", "check.published", "token.issued"} <= kinds
    assert {"token.denied", "escalation.requested", "escalation.approved"} <= kinds
    assert "deployment.rejected" in kinds
    invalid = [(doc["metadata"]["sequence"], schema_errors(doc)) for doc in documents]
    assert [(seq, errors) for seq, errors in invalid if errors] == []
