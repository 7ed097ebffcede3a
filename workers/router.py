"""A small router of `(event, action)` handlers; every handler has the same signature."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from app.services import Services

Handler = Callable[[dict[str, Any], Services], None]


class Router:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str | None], list[Handler]] = defaultdict(list)

    def on(self, event: str, *actions: str) -> Callable[[Handler], Handler]:
        """Register a handler for `event` with any of `actions` (none: every action)."""

        def register(handler: Handler) -> Handler:
            for action in actions or (None,):
                self._handlers[(event, action)].append(handler)
            return handler

        return register

    def handlers(self, event: str, action: str | None) -> list[Handler]:
        return [*self._handlers.get((event, None), ()), *self._handlers.get((event, action), ())]


def dispatch(routers: Iterable[Router], event: str, payload: dict[str, Any], deps: Services) -> int:
    """Run every handler registered for the delivery; returns how many ran (0: ignored)."""
    action = payload.get("action")
    ran = 0
    for router in routers:
        for handler in router.handlers(event, action):
            handler(payload, deps)
            ran += 1
    return ran
