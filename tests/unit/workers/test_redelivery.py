"""Redelivery of failed webhook deliveries, against the simulator's `/app/hook/deliveries`
and a webhook receiver that is down, then back."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.simulator import Installed, Simulator
from app.state import held_lock
from tests.unit.workers.conftest import Receiver
from workers import redelivery
from workers.redelivery import redeliver_failed, run_redelivery

REPO = "acme/widgets"


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def hooked(simulator: Simulator, installed: Installed, receiver: Receiver) -> Receiver:
    simulator.configure_webhook(installed.app_id, receiver.url)
    return receiver


def open_pull(simulator: Simulator, n: int = 1) -> str:
    """Open a pull request (a `pull_request.opened` delivery); its delivery GUID."""
    simulator.open_pull_request(REPO, author="dev", files={f"f{n}.txt": f"{n}\n"})
    return simulator.world.deliveries[-1].guid


def attempts(simulator: Simulator, guid: str) -> list[int]:
    with simulator.world.lock:
        return [d.status_code for d in simulator.world.deliveries if d.guid == guid]


def test_a_failed_delivery_is_redelivered_with_its_guid_once(simulator, hooked, deps):
    hooked.statuses = [503]
    failed = open_pull(simulator, 1)
    delivered = open_pull(simulator, 2)
    assert attempts(simulator, failed) == [503]

    report = redeliver_failed(deps)
    assert report.redelivered == [failed]
    wait_for(lambda: attempts(simulator, failed) == [503, 202], "the redelivery")
    assert hooked.guids() == [failed, delivered, failed]
    assert simulator.world.deliveries[-1].redelivery

    # The GUID now has a successful attempt: nothing more to do, however often it runs.
    assert redeliver_failed(deps).redelivered == []
    assert redeliver_failed(deps).redelivered == []
    assert hooked.guids() == [failed, delivered, failed]


def test_a_redelivery_that_fails_again_is_asked_for_again_then_given_up(
    simulator, hooked, deps, monkeypatch
):
    monkeypatch.setattr(redelivery, "MAX_REDELIVERIES", 2)
    hooked.statuses = [500, 502, 503, 504]
    guid = open_pull(simulator)
    for expected in ([500, 502], [500, 502, 503]):
        assert redeliver_failed(deps).redelivered == [guid]
        wait_for(lambda expected=expected: attempts(simulator, guid) == expected, "an attempt")
    report = redeliver_failed(deps)
    assert (report.redelivered, report.given_up) == ([], [guid])
    assert redeliver_failed(deps).given_up == []  # given up once, not every run
    assert attempts(simulator, guid) == [500, 502, 503]


def test_an_unreachable_app_is_a_failed_attempt_too(simulator, installed, receiver, deps):
    simulator.configure_webhook(installed.app_id, "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(Exception):  # noqa: B017 - httpx' connect error, recorded first
        open_pull(simulator)
    guid = simulator.world.deliveries[-1].guid
    simulator.configure_webhook(installed.app_id, receiver.url)
    assert redeliver_failed(deps).redelivered == [guid]
    wait_for(lambda: attempts(simulator, guid) == [0, 202], "the redelivery")


def test_deliveries_older_than_githubs_window_are_left_alone(simulator, hooked, deps):
    hooked.statuses = [503, 503]
    old, recent = open_pull(simulator, 1), open_pull(simulator, 2)
    with simulator.world.lock:
        record = next(d for d in simulator.world.deliveries if d.guid == old)
        record.delivered_at -= timedelta(days=3, minutes=1)
    assert redeliver_failed(deps).redelivered == [recent]


def test_the_next_run_starts_where_the_last_one_stopped(simulator, hooked, deps, monkeypatch):
    monkeypatch.setattr(redelivery, "PER_PAGE", 5)
    monkeypatch.setattr(redelivery, "OVERLAP", timedelta(0))
    hooked.statuses = [503] * 12
    guids = [open_pull(simulator, n) for n in range(12)]
    with simulator.world.lock:  # an hour ago, one second apart, the newest last
        for age, record in enumerate(reversed(simulator.world.deliveries)):
            record.delivered_at -= timedelta(hours=1, seconds=age)

    def listing_requests() -> int:
        return sum(r.path == "/app/hook/deliveries" for r in simulator.requests)

    simulator.clear_requests()
    report = redeliver_failed(deps)
    assert sorted(report.redelivered) == sorted(guids)
    assert listing_requests() == 3  # 12 attempts, 5 a page, followed by cursor
    wait_for(lambda: len(simulator.world.deliveries) == 24, "the redeliveries")
    with simulator.world.lock:  # half an hour ago, one second apart
        for age, record in enumerate(reversed(simulator.world.deliveries[12:])):
            record.delivered_at -= timedelta(minutes=30, seconds=age)

    simulator.clear_requests()
    assert redeliver_failed(deps).redelivered == []
    # The twelve redeliveries are new; it stops at the old checkpoint, not three days back.
    assert listing_requests() == 3
    cursors = [r.query.get("cursor") for r in simulator.requests if r.path.endswith("deliveries")]
    assert cursors[0] is None and all(c and c.startswith("v1_") for c in cursors[1:])

    simulator.clear_requests()
    assert redeliver_failed(deps).redelivered == []
    assert listing_requests() == 1


def test_one_run_at_a_time(simulator, hooked, deps):
    hooked.statuses = [503]
    open_pull(simulator)
    with held_lock(deps.state, "redelivery", 60) as held:
        assert held
        assert run_redelivery(deps) is None
        assert len(hooked.guids()) == 1
    report = run_redelivery(deps)
    assert report is not None and len(report.redelivered) == 1


# -- the simulator's endpoints, as githubkit reads them ---------------------------------


def test_deliveries_list_with_cursor_pagination_and_get_one(simulator, hooked, app_github: GitHub):
    hooked.statuses = [502]
    guids = [open_pull(simulator, n) for n in range(3)]
    first = app_github.rest.apps.list_webhook_deliveries(per_page=2)
    items = first.parsed_data
    assert [item.guid for item in items] == [guids[2], guids[1]]  # newest first
    assert items[0].status == "OK" and items[0].event == "pull_request"
    assert items[0].action == "opened"
    link = first.headers["link"]
    assert 'rel="next"' in link and "cursor=v1_" in link
    cursor = redelivery.next_cursor(link)
    rest = app_github.rest.apps.list_webhook_deliveries(per_page=2, cursor=cursor)
    (oldest,) = rest.parsed_data
    assert oldest.guid == guids[0]
    assert (oldest.status_code, oldest.status) == (502, "Invalid HTTP Response: 502")
    assert "link" not in rest.headers

    failed = app_github.rest.apps.list_webhook_deliveries(status="failure").parsed_data
    assert [item.guid for item in failed] == [guids[0]]

    detail = app_github.rest.apps.get_webhook_delivery(oldest.id)
    assert detail.parsed_data.guid == guids[0]
    assert detail.json()["request"]["payload"]["action"] == "opened"
    assert detail.json()["request"]["headers"]["X-GitHub-Delivery"] == guids[0]


def test_redelivery_endpoint_is_asynchronous_and_keeps_the_guid(
    simulator, hooked, app_github: GitHub
):
    hooked.statuses = [500]
    guid = open_pull(simulator)
    (item,) = app_github.rest.apps.list_webhook_deliveries().parsed_data
    response = app_github.rest.apps.redeliver_webhook_delivery(item.id)
    assert response.status_code == 202
    wait_for(lambda: attempts(simulator, guid) == [500, 202], "the redelivery")
    newest = app_github.rest.apps.list_webhook_deliveries().parsed_data[0]
    assert (newest.guid, newest.redelivery, newest.id > item.id) == (guid, True, True)


def test_deliveries_need_the_app_jwt_and_unknown_ids_are_404(
    simulator, hooked, installation_github: GitHub, app_github: GitHub
):
    open_pull(simulator)
    with pytest.raises(RequestFailed) as denied:
        installation_github.rest.apps.list_webhook_deliveries()
    assert denied.value.response.status_code == 401
    with pytest.raises(RequestFailed) as missing:
        app_github.rest.apps.get_webhook_delivery(999_999)
    assert missing.value.response.status_code == 404


def test_the_scheduled_job_redelivers(simulator, hooked, deps):
    from workers import beat_schedule
    from workers.redelivery import redeliver_failed_deliveries

    hooked.statuses = [503]
    guid = open_pull(simulator)
    schedule = {entry["task"]: entry for entry in beat_schedule().values()}
    assert schedule["workers.redelivery.redeliver_failed_deliveries"]["schedule"] == 120.0
    assert redeliver_failed_deliveries.apply().result == 1
    wait_for(lambda: attempts(simulator, guid) == [503, 202], "the redelivery")
