"""GitHub's own examples (see scripts/extract_fixtures.py), as fresh copies to patch."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@cache
def _text(kind: str, name: str) -> str:
    return (FIXTURES / kind / f"{name}.json").read_text()


def rest(name: str) -> Any:
    """A fresh copy of the REST example `name` (`components/examples` of the OpenAPI)."""
    return json.loads(_text("rest", name))


def webhook(key: str) -> dict[str, Any]:
    """A fresh copy of the webhook example `event.action` (or `event` without action)."""
    return json.loads(_text("webhooks", key))
