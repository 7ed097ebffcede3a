"""Appending: gapless seqs, links, idempotency by key, and no fork under concurrency."""

import itertools
import multiprocessing
import sqlite3

import pytest
from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit.append import append
from app.audit.models import AuditEvent
from app.audit.verify import verify
from app.db import make_engine
from app.errors import TransientError
from tests.unit.audit.appender import append_many, sample_event

PROCESSES = 8
APPENDS_EACH = 50


def rows(engine):
    with Session(engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_appends_are_gapless_and_linked(engine):
    seqs = [append(engine, sample_event(n)) for n in range(5)]
    stored = rows(engine)
    assert seqs == [1, 2, 3, 4, 5]
    assert [r.seq for r in stored] == seqs
    assert stored[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    with Session(engine) as session:
        assert verify(session).ok


def test_the_same_key_is_written_once(engine):
    first = append(engine, sample_event(1, key="webhook.received:delivery-1"))
    append(engine, sample_event(2))
    again = append(engine, sample_event(1, key="webhook.received:delivery-1"))
    assert again == first == 1
    assert [r.key for r in rows(engine)] == ["webhook.received:delivery-1", "test:2"]


def test_the_log_refuses_update_and_delete(engine):
    append(engine, sample_event(1))
    for statement in (
        update(AuditEvent).values(decision="deny"),
        delete(AuditEvent),
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    assert rows(engine)[0].decision == "allow"


def test_concurrent_processes_never_fork_the_chain(db_url):
    """8 processes x 50 appends, all released at once, on SQLite and on PostgreSQL."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=append_many, args=(db_url, worker, APPENDS_EACH, start))
        for worker in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(240)
        assert process.exitcode == 0
    engine = make_engine(db_url)
    stored = rows(engine)
    total = PROCESSES * APPENDS_EACH
    assert [r.seq for r in stored] == list(range(1, total + 1))
    assert len({r.key for r in stored}) == total
    assert len({r.prev_hash for r in stored}) == total  # no two events share a parent
    with Session(engine) as session:
        verdict = verify(session)
    assert verdict.ok, verdict.describe()
    assert verdict.head.seq == total
    engine.dispose()


def test_a_locked_database_is_a_transient_error(sqlite_url, tmp_path):
    """While another process holds the write lock past the busy timeout, the append is
    refused as transient (the audit job retries it later) and nothing is written."""
    impatient = create_engine(sqlite_url, connect_args={"timeout": 0.1})
    holder = sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(TransientError, match="unavailable"):
            append(impatient, sample_event(1))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        impatient.dispose()
    assert rows(make_engine(sqlite_url)) == []


def test_an_unreachable_database_is_a_transient_error():
    engine = make_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none")
    with pytest.raises(TransientError):
        append(engine, sample_event(1))
