"""A loopback GitHub for tests, benchmarks and `foureyes demo`.

`World` holds the state; `Simulator(world).start()` serves GitHub's REST API for it on
127.0.0.1 and its story helpers (`open_pull_request`, `review`, `push`...) change the
state and send the matching signed webhooks to the app. Responses and payloads are
GitHub's own examples patched with the state, so githubkit parses them as it parses
GitHub's. Importing this package starts nothing.
"""

from app.simulator.model import AppCredentials, Installed
from app.simulator.server import Simulator
from app.simulator.world import World

__all__ = ["AppCredentials", "Installed", "Simulator", "World"]
