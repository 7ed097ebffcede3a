"""Lesser finding (b): the app's own installation token sat in the shared state (Redis,
or its SQL fallback) in the clear, while agents' tokens are sealed. Whoever reads the
shared state held a token with every permission of the installation: more than any
agent may get. It is now sealed the same way (`app.identity.vault`)."""

from __future__ import annotations

from sqlalchemy import select

from app.github.client import GitHubApp
from app.state import KeyValue
from tests.unit.github.conftest import AGENT, REPO


def test_the_apps_installation_token_is_not_in_the_shared_state_in_the_clear(gate):
    sim = gate.simulator
    sim.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
    gate.deliver("pull_request")  # the gate fetched and cached an installation token
    with sim.world.lock:
        issued = [t for t, held in sim.world.tokens.items() if held.repositories is None]
    assert issued

    deps = gate.app.extensions["foureyes"]
    with deps.sessions() as session:
        stored = [row.value for row in session.scalars(select(KeyValue))]
    assert not [value for value in stored for token in issued if token in value]

    # Another process with the app's key reads it back without minting again.
    sim.clear_requests()
    other = GitHubApp(deps.settings, deps.state)
    assert other.installation_token(gate.installed.installation_id) in issued
    assert not [r for r in sim.requests if r.path.endswith("/access_tokens")]
