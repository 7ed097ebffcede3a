"""Evaluation leases on a real Redis: a lease lives while its heartbeat renews it and
expires when its process dies; one sweeper claims an expired lease, never a live one; the
sweep puts a dead consumer's own unacknowledged message back on its queue at once, not
after the visibility timeout; and a run gives its lease back however it ends."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from flask import Flask

import workers.leases
from app import create_app
from app.config import Settings
from app.simulator import Installed, Simulator
from app.state import RedisState
from workers.leases import Heartbeat, Leases, held_lease, restore_unacked

# A consumer that takes one message off `queue` without acknowledging it, says so, and
# waits to be killed: a worker that dies mid-task.
DYING_CONSUMER = """
import sys, time
from kombu import Connection
with Connection(sys.argv[1]) as connection:
    message = connection.default_channel.basic_get(sys.argv[2], no_ack=False)
    print("took" if message is not None else "empty", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def leases(client: redis.Redis) -> Iterator[Leases]:
    prefix = f"test-leases-{uuid.uuid4().hex[:8]}:"
    yield Leases(client, prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers.leases, "LEASE_TTL", 0.3)
    monkeypatch.setattr(workers.leases, "HEARTBEAT", 0.05)


def test_a_held_lease_has_not_expired_and_a_released_one_is_gone(leases: Leases):
    leases.hold("run-1", "workers.gate.evaluate_pull_request")
    assert leases.expired() == {}
    assert not leases.claim("run-1")
    leases.release("run-1")
    assert leases.expired() == {}
    assert not leases.client.exists(leases.key("run-1"))


def test_an_expired_lease_is_claimed_by_one_sweeper_only(leases: Leases, short_leases: None):
    leases.hold("run-1", "workers.gate.evaluate_pull_request")
    leases.hold("run-2", "workers.gate.evaluate_merge_group")
    time.sleep(0.4)
    leases.hold("run-2", "workers.gate.evaluate_merge_group")  # restored and running again
    assert leases.expired() == {"run-1": "workers.gate.evaluate_pull_request"}
    assert leases.claim("run-1")
    assert not leases.claim("run-1")
    assert not leases.claim("run-2")
    assert leases.expired() == {}


def test_the_heartbeat_keeps_a_lease_alive_past_its_ttl(leases: Leases, short_leases: None):
    leases.hold("run-1", "workers.gate.evaluate_pull_request")
    heartbeat = Heartbeat(leases, "run-1")
    heartbeat.start()
    time.sleep(0.8)
    assert leases.expired() == {}
    heartbeat.stopped.set()
    heartbeat.join()
    time.sleep(0.4)
    assert list(leases.expired()) == ["run-1"]


def test_a_run_gives_its_lease_back_however_it_ends(redis_url: str):
    state = RedisState.from_url(redis_url)
    task_id = f"run-{uuid.uuid4().hex}"
    leases = Leases.of(state)
    with pytest.raises(RuntimeError), held_lease(state, task_id, "workers.gate.evaluate"):
        assert leases.client.hget(leases.index, task_id) == "workers.gate.evaluate"
        raise RuntimeError("the evaluation failed")
    assert leases.client.hget(leases.index, task_id) is None
    assert not leases.client.exists(leases.key(task_id))


@pytest.fixture
def redis_app(
    redis_url: str, simulator: Simulator, installed: Installed, tmp_path: Path
) -> Iterator[Flask]:
    """The app on Redis (broker and shared state), not eager: tasks go through the broker."""
    settings = Settings.from_mapping(
        {
            "APP_ID": str(installed.app_id),
            "PRIVATE_KEY": installed.private_key,
            "WEBHOOK_SECRET": installed.webhook_secret,
            "GITHUB_API_URL": simulator.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'foureyes.sqlite'}",
            "FOUREYES_INSTANCE_PATH": str(tmp_path),
            "REDIS_URL": redis_url,
        }
    )
    flask_app = create_app(settings)
    with flask_app.app_context():
        yield flask_app
    flask_app.extensions["foureyes"].engine.dispose()


def dead_consumer_of(celery: Celery, redis_url: str, queue: str) -> str:
    """Queue one evaluation on `queue`, let a consumer take it and die; its task id."""
    task_id = f"evaluation-{uuid.uuid4().hex}"
    celery.send_task(
        "workers.gate.evaluate_pull_request",
        args=(1, "acme/widgets", 7),
        task_id=task_id,
        queue=queue,
    )
    consumer = subprocess.Popen(
        [sys.executable, "-c", DYING_CONSUMER, redis_url, queue],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert consumer.stdout is not None
        assert consumer.stdout.readline().strip() == "took"
    finally:
        consumer.kill()
        consumer.wait(10)
    return task_id


def test_the_sweep_hands_a_dead_runs_own_message_out_again_at_once(
    redis_app: Flask, redis_url: str, short_leases: None
):
    celery: Celery = redis_app.extensions["celery"]
    queue = f"test-leases-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(redis_url)
    task_id = dead_consumer_of(celery, redis_url, queue)
    leases = Leases.of(redis_app.extensions["foureyes"].state)
    leases.hold(task_id, "workers.gate.evaluate_pull_request")
    sweep = celery.tasks["workers.leases.sweep_expired_leases"]
    try:
        assert broker.llen(queue) == 0
        assert sweep.apply().get() == 0  # the lease has not expired yet
        time.sleep(0.4)
        assert sweep.apply().get() == 1
        assert broker.llen(queue) == 1
        with celery.connection_for_write() as connection:
            assert not restore_unacked(connection.default_channel, task_id)  # moved, not copied
        assert sweep.apply().get() == 0  # claimed once
    finally:
        broker.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        leases.release(task_id)


def test_a_leased_task_run_by_a_worker_holds_its_lease_until_it_ends(redis_app: Flask):
    celery: Celery = redis_app.extensions["celery"]
    queue = f"test-leases-{uuid.uuid4().hex[:8]}"
    leases = Leases.of(redis_app.extensions["foureyes"].state)
    seen: list[tuple[str | None, bool]] = []

    @celery.task(bind=True, leased=True, name=f"test.leased.{queue}")
    def leased_task(self) -> None:
        seen.append((leases.client.hget(leases.index, self.request.id), leases.expired() == {}))

    try:
        with start_worker(celery, pool="solo", queues=[queue], perform_ping_check=False):
            result = leased_task.apply_async(queue=queue)
            wait_until(lambda: seen and not leases.client.hget(leases.index, result.id))
    finally:
        leases.client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert seen == [(f"test.leased.{queue}", True)]
    assert not leases.client.exists(leases.key(result.id))


def wait_until(done: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
