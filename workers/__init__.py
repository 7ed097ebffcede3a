"""Celery: `celery -A workers worker` finds `workers.app`, built lazily from Settings.

Nothing is built at import: the first access to `workers.app` (or `workers.celery`)
builds the Flask app and its Celery app from the environment.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from flask import Flask
from kombu import Queue

from app.config import Settings

TASK_MODULES = [
    "workers.webhooks",
    "workers.gate",
    "workers.audit",
    "workers.tokens",
    "workers.deployments",
    "workers.guards",
    "workers.doctor",
    "workers.redelivery",
    "workers.reconcile",
    "workers.leases",
]

# Audit appends have a queue of their own, consumed by the audit worker
# (`app.serve.audit_worker_command`): an evaluation never waits behind them.
DEFAULT_QUEUE = "celery"
AUDIT_QUEUE = "audit"

# Worker-loss and crash safety: a task is acknowledged only after it ran, and a task
# whose worker died is delivered again. Every task is idempotent.
CELERY_DEFAULTS: dict[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "task_ignore_result": True,
    "task_default_queue": DEFAULT_QUEUE,
    "task_queues": (Queue(DEFAULT_QUEUE), Queue(AUDIT_QUEUE)),
    "task_routes": {"workers.audit.*": {"queue": AUDIT_QUEUE}},
    "broker_connection_retry_on_startup": True,
    # Intake answers 503 quickly when the broker is down, rather than hanging.
    "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
    "worker_hijack_root_logger": False,
    "timezone": "UTC",
}


def celery_init_app(flask_app: Flask, settings: Settings) -> Celery:
    """Flask's Celery pattern: every task runs inside the Flask app context."""
    from workers.base import FoureyesTask

    class BoundTask(FoureyesTask):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with flask_app.app_context():
                return super().__call__(*args, **kwargs)

    celery_app = Celery(flask_app.name, task_cls=BoundTask, include=TASK_MODULES)
    celery_app.conf.update(CELERY_DEFAULTS)
    celery_app.conf.update(
        broker_url=settings.broker_url,
        task_always_eager=settings.eager,
        task_eager_propagates=settings.eager,
        # Seconds before Redis redelivers a task whose worker died without acking it; tests
        # that kill workers shorten it (FOUREYES_VISIBILITY_TIMEOUT). Redis only: kombu's
        # SQLAlchemy transport hands its options to create_engine, which refuses this one.
        broker_transport_options=(
            {
                "visibility_timeout": int(os.environ.get("FOUREYES_VISIBILITY_TIMEOUT", "300")),
                # Look for such tasks every 10 s (kombu's default: every 100 s), so a
                # killed worker's evaluation runs again soon after the timeout.
                "unacked_restore_throttle": 1,
            }
            if settings.redis_url
            else {}
        ),
        beat_schedule=beat_schedule(),
    )
    celery_app.set_default()
    flask_app.extensions["celery"] = celery_app
    return celery_app


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Scheduled jobs; each task module that needs one lists it here."""
    from workers.leases import SWEEP_EVERY

    return {
        # A dead worker's evaluation runs again once its lease expires, not after the
        # visibility timeout.
        "sweep-expired-leases": {
            "task": "workers.leases.sweep_expired_leases",
            "schedule": SWEEP_EVERY,
            "options": {"expires": SWEEP_EVERY},
        },
        # Agent tokens die at their TTL (GitHub's own expiry is an hour).
        "revoke-due-agent-tokens": {"task": "workers.tokens.revoke_due_tokens", "schedule": 30.0},
        "reopen-lost-escalations": {
            "task": "workers.tokens.reopen_lost_escalations",
            "schedule": 120.0,
        },
        # Held deployments nobody decided in time are rejected.
        "expire-deployment-reviews": {
            "task": "workers.deployments.expire_deployment_reviews",
            "schedule": 60.0,
        },
        # Is the gate still enforced everywhere? Records `config.drift` on each change.
        "doctor-drift-check": {"task": "workers.doctor.check_drift", "schedule": 3600.0},
        # GitHub never retries a failed delivery: ask again for those it could not hand us.
        # A run that waited past its interval (workers down) is dropped, not piled up.
        "redeliver-failed-webhooks": {
            "task": "workers.redelivery.redeliver_failed_deliveries",
            "schedule": 120.0,
            "options": {"expires": 120.0},
        },
        # The audit chain's head, signed, outside the database (at least hourly).
        "anchor-audit-chain": {
            "task": "workers.audit.anchor_chain",
            "schedule": 900.0,
            "options": {"expires": 900.0},
        },
        # Lost events leave checks missing or stale: re-evaluate those pull requests.
        "reconcile-gate-checks": {
            "task": "workers.reconcile.reconcile_all",
            "schedule": 600.0,
            "options": {"expires": 600.0},
        },
    }


def make_celery(settings: Settings | None = None) -> Celery:
    from app import create_app

    return create_app(settings).extensions["celery"]


_built: dict[str, Celery] = {}


def _checked_celery() -> Celery:
    """`celery -A workers`: the configuration is checked first; a problem is one line."""
    from app import preflight

    settings = Settings.from_env()
    preflight.require_server(settings)
    return make_celery(settings)


def __getattr__(name: str) -> Celery:
    if name in ("app", "celery"):
        if "app" not in _built:
            from app.preflight import guarded

            _built["app"] = guarded(_checked_celery)
        return _built["app"]
    raise AttributeError(name)
