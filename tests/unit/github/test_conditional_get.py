"""`conditional_get` against the simulator's conditional requests: the ETag is kept in
shared state, a 304 serves the kept body at no rate-limit cost, a change is read fresh,
and a missing file is a 404 with nothing kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from githubkit import GitHub

from app.db import make_engine
from app.github.client import conditional_get
from app.migrate import upgrade
from app.simulator import Simulator
from app.state import SqlState

RAW = "application/vnd.github.raw+json"
README = "/repos/acme/widgets/contents/README.md"


@pytest.fixture
def state(tmp_path: Path) -> SqlState:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    upgrade(engine, tmp_path)
    return SqlState(engine)


def test_unchanged_content_is_a_free_304_served_from_the_kept_body(
    simulator: Simulator, installation_github: GitHub, state: SqlState
) -> None:
    simulator.clear_requests()
    assert conditional_get(installation_github, state, README, accept=RAW) == (
        200,
        "# widgets\n",
    )
    assert conditional_get(installation_github, state, README, accept=RAW) == (
        304,
        "# widgets\n",
    )
    first, second = simulator.requests
    assert (first.status, second.status) == (200, 304)
    assert "if-none-match" not in first.headers and second.headers["if-none-match"]

    simulator.push_default_branch("acme/widgets", {"README.md": "new\n"}, pusher="alice")
    assert conditional_get(installation_github, state, README, accept=RAW) == (200, "new\n")


def test_a_missing_file_is_404_and_nothing_is_kept(
    simulator: Simulator, installation_github: GitHub, state: SqlState
) -> None:
    missing = "/repos/acme/widgets/contents/.github/foureyes.yml"
    assert conditional_get(installation_github, state, missing, accept=RAW) == (404, "")
    assert state.get(f"etag:{missing}:{RAW}") is None
