"""`foureyes audit verify` against a tampered database: each kind of tampering is caught
and the first bad seq is named; an anchor catches a truncated tail."""

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, text

from app.audit.append import append
from app.audit.chain import GENESIS_HASH, chained, normalise_event
from app.audit.models import AuditEvent
from app.cli import cli
from tests.unit.audit.appender import sample_event

EVENTS = 8


def run_verify(db_url, *args):
    result = CliRunner().invoke(
        cli, ["audit", "verify", *args], env={"DATABASE_URL": db_url}, catch_exceptions=False
    )
    return result.exit_code, result.output


def bad_seq(output):
    found = re.search(r"broken at seq (\d+)", output)
    return int(found.group(1)) if found else None


@pytest.fixture
def log(engine):
    """A log of EVENTS events, with the append-only triggers dropped as an attacker with
    database access would."""
    for n in range(1, EVENTS + 1):
        append(engine, sample_event(n))
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_events_no_delete")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_events_append_only ON audit_events")
    return engine


def sql(engine, statement, **params):
    with engine.begin() as conn:
        return conn.execute(text(statement), params)


def append_raw(engine, row):
    """Insert a row as a forger would: straight into the table, hash computed by hand."""
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent).values(**row))


def head_of(engine):
    return sql(engine, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").one()


def test_an_intact_log_passes_and_prints_its_head(log, db_url):
    code, output = run_verify(db_url)
    seq, digest = head_of(log)
    assert code == 0, output
    assert f"{EVENTS} events" in output
    assert f"--expect-head {seq}:{digest}" in output
    assert run_verify(db_url, "--expect-head", f"{seq}:{digest}")[0] == 0


def test_an_empty_log_passes_with_the_genesis_head(engine, db_url):
    code, output = run_verify(db_url)
    assert code == 0
    assert f"0:{GENESIS_HASH}" in output


@pytest.mark.parametrize(
    ("column", "value"),
    [("decision", "deny"), ("agent", "someone-else"), ("ts", "2020-01-01T00:00:00.000000Z")],
)
def test_a_modified_field_is_named(log, db_url, column, value):
    statement = f"UPDATE audit_events SET {column} = :value WHERE seq = 5"  # noqa: S608
    sql(log, statement, value=value)
    code, output = run_verify(db_url)
    assert code != 0
    assert bad_seq(output) == 5
    assert "hash does not match" in output


def test_modified_data_is_named(log, db_url):
    sql(log, """UPDATE audit_events SET data = '{"token_id": "t3", "ttl": 86400}' WHERE seq = 3""")
    code, output = run_verify(db_url)
    assert (code != 0, bad_seq(output)) == (True, 3)


def test_a_deleted_row_is_named(log, db_url):
    sql(log, "DELETE FROM audit_events WHERE seq = 4")
    code, output = run_verify(db_url)
    assert code != 0
    assert bad_seq(output) == 4
    assert "missing" in output


def test_a_forged_row_inserted_in_the_middle_is_caught(log, db_url):
    """The forger shifts later rows up one and inserts a row whose own hash and link are
    right; the chain breaks at the event after it, which no longer links to its parent."""
    prev = sql(log, "SELECT hash FROM audit_events WHERE seq = 3").scalar()
    sql(log, "UPDATE audit_events SET seq = seq + 100 WHERE seq > 3")
    sql(log, "UPDATE audit_events SET seq = seq - 99 WHERE seq > 100")
    append_raw(log, chained(normalise_event(sample_event(99, key="forged")), 4, prev))
    code, output = run_verify(db_url)
    assert code != 0
    assert bad_seq(output) == 5
    assert "prev_hash" in output


def test_two_reordered_rows_are_named(log, db_url):
    sql(log, "UPDATE audit_events SET seq = 1000 WHERE seq = 6")
    sql(log, "UPDATE audit_events SET seq = 6 WHERE seq = 7")
    sql(log, "UPDATE audit_events SET seq = 7 WHERE seq = 1000")
    code, output = run_verify(db_url)
    assert code != 0
    assert bad_seq(output) == 6


def test_a_truncated_tail_needs_the_anchor(log, db_url):
    seq, digest = head_of(log)
    sql(log, "DELETE FROM audit_events WHERE seq > 5")
    assert run_verify(db_url)[0] == 0  # what remains is a valid chain
    code, output = run_verify(db_url, "--expect-head", f"{seq}:{digest}")
    assert code != 0
    assert bad_seq(output) == 6
    assert "truncated" in output


def test_a_rewritten_chain_fails_the_anchor(log, db_url):
    """An attacker who rewrites every hash from seq 2 on makes a consistent chain, but the
    head recorded earlier no longer matches."""
    seq, digest = head_of(log)
    rows = sql(log, "SELECT seq FROM audit_events ORDER BY seq").scalars().all()
    sql(log, "DELETE FROM audit_events WHERE seq >= 2")
    prev = sql(log, "SELECT hash FROM audit_events WHERE seq = 1").scalar()
    for n in rows[1:]:
        row = chained(normalise_event(sample_event(n, decision="deny")), n, prev)
        append_raw(log, row)
        prev = row["hash"]
    assert run_verify(db_url)[0] == 0
    code, output = run_verify(db_url, "--expect-head", f"{seq}:{digest}")
    assert (code != 0, bad_seq(output)) == (True, seq)


def test_a_malformed_anchor_is_a_usage_error(log, db_url):
    code, output = run_verify(db_url, "--expect-head", "8:nothex")
    assert code == 2
    assert "SEQ:HASH" in output
