"""gunicorn's settings file, read from the working directory (the Procfile's `web`)."""


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker is gone: with PROMETHEUS_MULTIPROC_DIR, its live gauges go with it."""
    from app.metrics import mark_process_dead

    mark_process_dead(worker.pid)
