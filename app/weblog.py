"""gunicorn's own lines (start, workers booted, the access log) in the process' one log
format (`app.logging`): `gunicorn --logger-class app.weblog.Logger`, as `serve` and the
Procfile run it."""

from __future__ import annotations

import logging

from gunicorn import glogging
from gunicorn.config import Config

from app.logging import configure_logging, verbose_requested


class Logger(glogging.Logger):
    """gunicorn's logger, with its plain-text handlers replaced by the root's JSON one."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        configure_logging()
        level = logging.INFO if verbose_requested() else logging.WARNING
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True
            log.setLevel(level)
