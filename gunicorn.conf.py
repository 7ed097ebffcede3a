"""gunicorn's settings file, read from the working directory (the Procfile's `web`)."""

# gunicorn's own lines (start, workers, access log) as JSON lines, like the app's.
logger_class = "app.weblog.Logger"


def on_starting(server):  # type: ignore[no-untyped-def]
    """Check the configuration before any worker boots: a problem is one line, exit 2."""
    from app import preflight
    from app.config import Settings

    preflight.guarded(lambda: preflight.require_server(Settings.from_env()))


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker is gone: with PROMETHEUS_MULTIPROC_DIR, its live gauges go with it."""
    from app.metrics import mark_process_dead

    mark_process_dead(worker.pid)
