"""The session-wide check that every GitHub call the app made is in the inventory.

Every `Simulator` in the pytest process (unit tests, and the e2e suite's, whose gunicorn
and Celery workers call it over loopback) reports each request it answers. Requests the
app sent carry its `User-Agent: foureyes`; tests' own clients (agents, browsers, the
fixtures' githubkit clients) send another. At the end of the session each of the app's
(method, route template, auth kind) must have a line in `docs/github-calls.yml`, else the
session fails and names the missing calls.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from app.github.inventory import Inventory, load
from app.simulator import Simulator
from app.simulator.model import RecordedRequest

APP_USER_AGENT = "foureyes"


def made_by_app(record: RecordedRequest) -> bool:
    return record.headers.get("user-agent", "").split("/", 1)[0] == APP_USER_AGENT


def missing_calls(inventory: Inventory, records: Iterable[RecordedRequest]) -> list[str]:
    """`METHOD template (auth)` of each call the app made that no inventory line names.

    A request refused before its credentials were known (401, recorded as `none`) is
    matched on method and path alone: the simulator could not tell who sent it. A
    request no route answered is matched on its concrete path.
    """
    missing = set()
    for record in records:
        if not made_by_app(record):
            continue
        anonymous_refusal = record.status == 401 and record.auth == "none"
        auth = None if anonymous_refusal else record.auth
        if record.template is not None:
            found = inventory.find(record.method, record.template, auth)
        else:
            found = inventory.find_path(record.method, record.path, auth)
        if found is None:
            missing.add(f"{record.method} {record.template or record.path} ({record.auth})")
    return sorted(missing)


class CallCollector:
    """Observes every simulator of the session; checks the app's calls at the end."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str, int], RecordedRequest] = {}

    def observe(self, record: RecordedRequest) -> None:
        if made_by_app(record):
            key = (record.method, record.template or record.path, record.auth, record.status)
            self.records.setdefault(key, record)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        Simulator.observers.append(self.observe)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.observe in Simulator.observers:
            Simulator.observers.remove(self.observe)
        inventory = load()
        missing = missing_calls(inventory, self.records.values())
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and self.records:
            used = {
                call.key
                for record in self.records.values()
                if (call := inventory.find(record.method, record.template or "", record.auth))
            }
            reporter.write_line(
                f"GitHub calls: the app made {len(used)} of the {len(inventory.calls)} "
                "calls docs/github-calls.yml lists"
            )
        if not missing:
            return
        message = (
            "GitHub calls the app made that docs/github-calls.yml does not list "
            "(add a line, then run python -m app.github.inventory):\n  " + "\n  ".join(missing)
        )
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
