"""`GET /api/audit/events` and `GET /audit`: the admin token, filters, pages, escaping."""

import pytest

from app import create_app
from app.audit.emit import emit
from tests.unit.audit.conftest import ADMIN_TOKEN, app_settings

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def client(flask_app):
    with flask_app.app_context():
        for n in range(1, 8):
            emit(
                "gate.evaluated" if n % 2 else "token.issued",
                subject=f"acme/app#{n}" if n % 2 else f"token:t{n}",
                repository="acme/app" if n < 6 else "acme/other",
                agent="agent-a" if n <= 3 else "agent-b",
                data={"n": n},
            )
    return flask_app.test_client()


def test_no_admin_token_configured_is_403_for_everyone(tmp_path, sqlite_url):
    settings = app_settings(tmp_path, sqlite_url, FOUREYES_ADMIN_TOKEN="")
    client = create_app(settings).test_client()
    for path in ("/api/audit/events", "/audit"):
        response = client.get(path, headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403
        assert "FOUREYES_ADMIN_TOKEN" in response.json["reason"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": ADMIN_TOKEN},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
    ],
)
def test_missing_or_wrong_token_is_401(client, headers):
    for path in ("/api/audit/events", "/audit"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401
        assert b"acme" not in response.data


def test_a_token_in_the_query_string_is_not_accepted(client):
    assert client.get(f"/api/audit/events?token={ADMIN_TOKEN}").status_code == 401
    assert client.get(f"/audit?token={ADMIN_TOKEN}").status_code == 401


def test_events_are_listed_oldest_first_with_every_field(client):
    body = client.get("/api/audit/events", headers=AUTH).json
    assert [e["seq"] for e in body["events"]] == list(range(1, 8))
    assert body["next"] is None
    first = body["events"][0]
    assert set(first) >= {"seq", "ts", "type", "subject", "prev_hash", "hash", "data", "key"}
    assert first["prev_hash"] == "0" * 64


@pytest.mark.parametrize(
    ("query", "seqs"),
    [
        ("agent=agent-a", [1, 2, 3]),
        ("repository=acme/other", [6, 7]),
        ("type=token.issued", [2, 4, 6]),
        ("type=gate.evaluated&agent=agent-b", [5, 7]),
        ("since=2000-01-01T00:00:00Z", [1, 2, 3, 4, 5, 6, 7]),
        ("since=2999-01-01T00:00:00%2B00:00", []),
    ],
)
def test_filters(client, query, seqs):
    body = client.get(f"/api/audit/events?{query}", headers=AUTH).json
    assert [e["seq"] for e in body["events"]] == seqs


def test_cursor_pagination_walks_every_event_once(client):
    seen, cursor, pages = [], None, 0
    while True:
        after = f"&after={cursor}" if cursor is not None else ""
        body = client.get(f"/api/audit/events?limit=3{after}", headers=AUTH).json
        seen += [e["seq"] for e in body["events"]]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == list(range(1, 8))
    assert pages == 3


@pytest.mark.parametrize(
    "query", ["limit=501", "limit=0", "limit=x", "after=-1", "since=yesterday"]
)
def test_malformed_queries_are_400(client, query):
    response = client.get(f"/api/audit/events?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.json["reason"]


def test_the_page_escapes_every_value(flask_app):
    hostile = '<script>alert("x")</script>'
    with flask_app.app_context():
        emit(
            "policy.invalid",
            subject=f"acme/app#1{hostile}",
            repository=hostile,
            actor=hostile,
            agent=hostile,
            decision=hostile[:60],
            reason=hostile,
            data={hostile: hostile},
        )
    response = flask_app.test_client().get("/audit", headers=AUTH)
    assert response.status_code == 200
    assert b"<script>" not in response.data
    assert b"&lt;script&gt;" in response.data
    assert response.content_type.startswith("text/html")


def test_the_page_links_to_the_next_page_without_the_token(client):
    response = client.get("/audit?limit=2&agent=agent-b", headers=AUTH)
    page = response.get_data(as_text=True)
    assert page.count("<tr>") == 3  # the header and two events
    assert "agent=agent-b" in page and "after=5" in page
    assert ADMIN_TOKEN not in page
