"""Evaluation leases: the evaluation of a killed worker runs again within a minute.

A worker killed mid-task (SIGKILL, the OOM killer, a lost node) never acknowledges its
message, and Redis hands it out again only after the broker's visibility timeout (300 s):
meanwhile the pull request has no check. So a leased task (the path from an event to its
check: a delivery's handling, an evaluation) holds a lease while it runs: a Redis key with
a short TTL (`LEASE_TTL`) that a heartbeat thread renews every `HEARTBEAT` seconds, and an
entry naming the task in the `leases` hash. A run that ends in any way (done, retried,
failed) gives its lease back; only a dead run leaves one to expire.

`sweep_expired_leases` (Celery beat, every `SWEEP_EVERY` seconds) claims each entry whose
key has expired and puts that task's own unacknowledged message back at the head of its
queue, as the visibility timeout would have later: the same message and task id, so the
rerun takes over the locks of its dead run, updates the check run it may have created and
audits its decision once (`workers.gate.rerun_key`). A claim is atomic (one sweeper wins)
and only ever taken on an expired key, so a live run is never handed out twice unless its
process stops for longer than `LEASE_TTL` (a frozen machine). A lease whose message is no
longer unacknowledged (acknowledged, or restored already) is just dropped; if the sweeper
dies between its claim and the restore, the visibility timeout still hands the task out.
Redis only: the embedded SQLite broker has no visibility timeout to shorten.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
import structlog
from celery import shared_task
from prometheus_client import Counter

from app.services import services
from app.state import RedisState, SharedState, SharedStateUnavailable

log = structlog.get_logger()

LEASE_TTL = 20.0
HEARTBEAT = 5.0
SWEEP_EVERY = 10.0

LEASES_RESTORED = Counter(
    "foureyes_leases_restored_total",
    "Tasks of dead workers handed out again when their lease expired",
    ["task"],
)

# Remove the hash entry only when the lease key has expired: one sweeper wins, and a run
# that holds the lease again (the same task id, restored) is never claimed.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('HDEL', KEYS[2], ARGV[1])
"""


class Leases:
    """The leases of running tasks, in Redis: `lease:<task id>` keys and a `leases` hash."""

    def __init__(self, client: redis.Redis, prefix: str = "foureyes:") -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}leases"
        self._claim = client.register_script(_CLAIM)

    @classmethod
    def of(cls, state: RedisState) -> Leases:
        return cls(state.client, state.prefix)

    def key(self, task_id: str) -> str:
        return f"{self.prefix}lease:{task_id}"

    def hold(self, task_id: str, task_name: str) -> None:
        """Take (or, for the same task id, take over) the lease of a starting run."""
        pipe = self.client.pipeline()
        pipe.set(self.key(task_id), task_name, px=int(LEASE_TTL * 1000))
        pipe.hset(self.index, task_id, task_name)
        pipe.execute()

    def renew(self, task_id: str) -> bool:
        """Extend the lease; False when it had expired already (the task may run twice)."""
        return bool(self.client.pexpire(self.key(task_id), int(LEASE_TTL * 1000)))

    def release(self, task_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.hdel(self.index, task_id)
        pipe.delete(self.key(task_id))
        pipe.execute()

    def expired(self) -> dict[str, str]:
        """Task id -> task name of every lease whose key has expired."""
        held = self.client.hgetall(self.index)
        if not held:
            return {}
        ids = list(held)
        pipe = self.client.pipeline(transaction=False)
        for task_id in ids:
            pipe.exists(self.key(task_id))
        alive = pipe.execute()
        return {
            task_id: held[task_id] for task_id, live in zip(ids, alive, strict=True) if not live
        }

    def claim(self, task_id: str) -> bool:
        """Take an expired lease off the index; True for the one caller that did."""
        return bool(self._claim(keys=[self.key(task_id), self.index], args=[task_id]))


class Heartbeat(threading.Thread):
    """Renews a lease until stopped; a daemon, so it dies with the process it proves alive."""

    def __init__(self, leases: Leases, task_id: str) -> None:
        super().__init__(name=f"lease-{task_id}", daemon=True)
        self.leases = leases
        self.task_id = task_id
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(HEARTBEAT):
            try:
                if not self.leases.renew(self.task_id):
                    log.warning("lease.lost", task_id=self.task_id, outcome="may run twice")
            except redis.RedisError as exc:
                log.warning("lease.renew_failed", task_id=self.task_id, error=str(exc))


@contextmanager
def held_lease(state: SharedState, task_id: str, task_name: str) -> Iterator[None]:
    """Hold a lease on `task_id` while the block runs (only with Redis shared state)."""
    if not isinstance(state, RedisState):
        yield
        return
    leases = Leases.of(state)
    try:
        leases.hold(task_id, task_name)
    except redis.RedisError as exc:
        raise SharedStateUnavailable(f"redis unavailable: {exc}") from exc
    heartbeat = Heartbeat(leases, task_id)
    heartbeat.start()
    try:
        yield
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
        try:
            leases.release(task_id)
        except redis.RedisError as exc:
            # The lease expires by itself; the sweeper then finds no message to restore.
            log.warning("lease.release_failed", task_id=task_id, error=str(exc))


def restore_unacked(channel: Any, task_id: str) -> bool:
    """Put the unacknowledged message of `task_id` back at the head of its queue (kombu's
    Redis transport: the `unacked` hash, restored as its visibility timeout does)."""
    client = channel.client
    for tag, raw in client.hscan_iter(channel.unacked_key):
        message, _exchange, _routing_key = json.loads(raw)
        if (message.get("headers") or {}).get("id") == task_id:
            channel.qos.restore_by_tag(tag, client)
            return True
    return False


@shared_task(name="workers.leases.sweep_expired_leases", bind=True)
def sweep_expired_leases(self: Any) -> int:
    """Hand out again the task of every expired lease; returns how many were restored."""
    deps = services()
    if not isinstance(deps.state, RedisState):
        return 0
    leases = Leases.of(deps.state)
    try:
        expired = leases.expired()
    except redis.RedisError as exc:
        raise SharedStateUnavailable(f"redis unavailable: {exc}") from exc
    if not expired:
        return 0
    restored = 0
    with self.app.connection_for_write() as connection:
        channel = connection.default_channel
        for task_id, task_name in expired.items():
            if not leases.claim(task_id):
                continue
            if restore_unacked(channel, task_id):
                restored += 1
                LEASES_RESTORED.labels(task_name).inc()
                log.warning(
                    "lease.restored",
                    task_id=task_id,
                    task_name=task_name,
                    outcome="its worker died mid-task; queued again",
                )
            else:
                log.info("lease.dropped", task_id=task_id, task_name=task_name)
    return restored
