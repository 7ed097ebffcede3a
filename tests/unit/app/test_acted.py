"""The memory of who acted (`app.acted`), on the migrated schema: what each webhook
records, idempotently, and since when a pull request's base is what it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app import acted
from app.db import make_engine, make_session_factory
from app.migrate import upgrade

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
REPO = {"full_name": "acme/widgets"}


@pytest.fixture
def session(tmp_path) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 'acted.sqlite'}")
    upgrade(engine, tmp_path)
    with make_session_factory(engine).begin() as session:
        yield session


def test_a_push_records_its_pusher_and_sender_for_every_commit_it_lists(session):
    payload = {
        "repository": REPO,
        "sender": {"login": "foureyes[bot]"},
        "pusher": {"name": "foureyes[bot]"},
        "ref": "refs/heads/main",
        "after": "c2",
        "commits": [{"id": "c1"}, {"id": "c2"}],
        "forced": True,
    }
    acted.from_webhook(session, "push", payload, NOW)
    acted.from_webhook(session, "push", payload, NOW + timedelta(hours=1))  # redelivered
    found = acted.actors(session, "ACME/widgets", acted.PUSH, ["c1", "c2", "c3"])
    assert found == {"c1": [("foureyes[bot]", NOW)], "c2": [("foureyes[bot]", NOW)]}
    rewrites = acted.actors(session, "acme/widgets", acted.FORCE_PUSH, ["refs/heads/main"])
    assert rewrites == {"refs/heads/main": [("foureyes[bot]", NOW)]}


def test_synchronize_and_dismissal_senders_are_recorded(session):
    base = {"repository": REPO, "sender": {"login": "foureyes[bot]"}}
    acted.from_webhook(
        session, "pull_request", {**base, "action": "synchronize", "after": "h"}, NOW
    )
    dismissed = {"action": "dismissed", "pull_request": {"number": 3}, "review": {"id": 9}}
    acted.from_webhook(session, "pull_request_review", {**base, **dismissed}, NOW)
    assert acted.actors(session, REPO["full_name"], acted.PUSH, ["h"])["h"][0][0] == "foureyes[bot]"
    assert acted.actors(session, REPO["full_name"], acted.DISMISSAL, ["3:9"])


def test_the_base_is_trusted_when_first_seen_and_a_change_dates_from_when_it_is_seen(session):
    assert acted.base_since(session, "acme/widgets", 1, "scratch", NOW) is None
    assert acted.base_since(session, "acme/widgets", 1, "scratch", NOW) is None
    later = NOW + timedelta(minutes=5)
    assert acted.base_since(session, "acme/widgets", 1, "main", later) == later
    assert acted.base_since(session, "acme/widgets", 1, "main", later + timedelta(1)) == later


def test_a_retarget_webhook_dates_the_change_from_githubs_updated_at(session):
    acted.base_since(session, "acme/widgets", 2, "scratch", NOW)
    edited = {
        "repository": REPO,
        "sender": {"login": "foureyes[bot]"},
        "action": "edited",
        "changes": {"base": {"ref": {"from": "scratch"}}},
        "pull_request": {
            "number": 2,
            "base": {"ref": "main"},
            "updated_at": "2026-01-05T12:03:00Z",
        },
    }
    acted.from_webhook(session, "pull_request", edited, NOW + timedelta(hours=1))
    since = acted.base_since(session, "acme/widgets", 2, "main", NOW + timedelta(hours=1))
    assert since == NOW + timedelta(minutes=3)
