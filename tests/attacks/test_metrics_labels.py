"""Bounded metric labels: names an agent chooses never become Prometheus series.

The push guard looks up each pushed branch on GitHub (`GET /branches/{branch}`); with
the request path as a label, every branch an agent invents was a new series kept for the
life of the process (unbounded memory in every scraper) and its name was published on
`/metrics`. The label is the route template, so the series count stays put.
"""

from __future__ import annotations

import secrets

from tests.attacks.helpers import app_bot
from tests.unit.github.conftest import REPO, Gate

SERIES = "foureyes_github_requests_total{"


def github_series(gate: Gate) -> set[str]:
    body = gate.app.test_client().get("/metrics").get_data(as_text=True)
    return {line.rsplit(" ", 1)[0] for line in body.splitlines() if line.startswith(SERIES)}


def test_many_invented_branch_names_add_no_series_and_never_reach_metrics(gate: Gate):
    bot = app_bot(gate)
    for warm_up in ("warm-up/1", "warm-up/2"):  # the flag issue, then a comment on it
        gate.simulator.push_branch(REPO, warm_up, {"a.py": "0\n"}, pusher=bot)
        gate.deliver("push")
    before = github_series(gate)

    names = [f"x/{secrets.token_hex(6)}/pulls/maria-{i}" for i in range(25)]
    for index, branch in enumerate(names):
        gate.simulator.push_branch(REPO, branch, {"a.py": f"{index}\n"}, pusher=bot)
        gate.deliver("push")
    requested = [r.path for r in gate.simulator.requests]
    assert f"/repos/{REPO}/branches/{names[-1]}" in requested  # the path did carry it

    after = github_series(gate)
    assert after - before == set()
    body = gate.app.test_client().get("/metrics").get_data(as_text=True)
    for branch in names:
        assert branch.split("/")[1] not in body
    assert REPO not in body
    assert 'endpoint="/repos/{owner}/{repo}/branches/{branch}"' in body
