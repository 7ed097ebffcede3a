"""Red team, issue 14: on PostgreSQL, one body line the agent writes rolls back every
requester (and pusher) row of the delivery. `acted.from_webhook` stores the body's
`Requested by` evidence verbatim; a NUL in it makes psycopg raise ValueError (not the
IntegrityError `record` absorbs), the whole transaction of `remember_actor` is rolled
back, and `on_pull_request` never requests the evaluation. The assignment by Copilot in
the same `opened`/`assigned` delivery is lost; once the body is cleaned, later
evaluations do not know the requester and she approves. (Not checked: whether GitHub
keeps a NUL in a pull request body.)"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import app.acted as acted
from app.db import Base

URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def engine():
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        Base.metadata.create_all(engine, tables=[acted.Acted.__table__])
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield engine
    with engine.begin() as conn:
        conn.execute(acted.Acted.__table__.delete().where(acted.Acted.repository == "rt14/nul"))
    engine.dispose()


def test_a_nul_in_the_body_does_not_drop_copilots_assignment(engine):
    payload = {
        "action": "opened",
        "repository": {"full_name": "rt14/nul"},
        "sender": {"login": "Copilot"},
        "pull_request": {
            "number": 7,
            "body": "Fix the redirect.\nRequested by:\x00 @nobody",
            "assignees": [{"login": "alice"}],
            "requested_reviewers": [],
        },
    }
    # As `workers.gate.remember_actor` records a delivery: pushers, then requesters.
    with Session(engine) as session, session.begin():
        acted.from_webhook(session, "pull_request", payload, datetime.now(UTC))
    with Session(engine) as session, session.begin():
        acted.requesters_from_webhook(session, payload, datetime.now(UTC))
    with Session(engine) as session:
        remembered = acted.requesters(session, "rt14/nul", 7)
    assert ("alice", "assigned", "Copilot") in [(r.login, r.source, r.evidence) for r in remembered]
