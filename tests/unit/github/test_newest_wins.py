"""The webhook's copy of a pull request saves a request only when it is provably the
newest state: an older, redelivered or out-of-order copy never decides the gate."""

from __future__ import annotations

from app.gate import current_pull, offer_pull
from app.simulator.model import RecordedRequest
from tests.unit.github.conftest import AGENT, REPO, Gate, counted

PULL = f"GET /repos/{REPO}/pulls/1"
OPEN_PULLS = f"GET /repos/{REPO}/pulls"


def asked_github(requests: list[RecordedRequest]) -> bool:
    """Was the pull request read from GitHub: itself, or its entry in the list of open pull
    requests (a free 304 when the list has not changed since the last evaluation read it)?"""
    asked = {f"{r.method} {r.path}" for r in requests}
    return PULL in asked or OPEN_PULLS in asked


def test_an_older_payload_delivered_late_does_not_undo_a_newer_label(gate: Gate):
    gate.simulator.add_user("coder")
    gate.simulator.set_role(REPO, "coder", "write")
    number = gate.simulator.open_pull_request(REPO, author="coder", files={"a.py": "1\n"})
    opened = gate.simulator.last_payload
    gate.deliver("pull_request")
    head = gate.head(number)
    assert gate.check_runs(head)[0].conclusion == "success"  # a human's PR needs no gate

    gate.simulator.label(REPO, number, "ai-generated", sender="maintainer")
    gate.deliver("pull_request")
    assert gate.check_runs(head)[0].conclusion == "action_required"

    late = gate.deliver("pull_request", opened)
    assert asked_github(late)  # the stale copy was refused: GitHub was asked
    [run] = gate.check_runs(head)
    assert run.conclusion == "action_required"


def test_an_out_of_order_push_never_judges_the_older_head(gate: Gate):
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
    gate.deliver("pull_request")
    first = gate.simulator.push(REPO, number, author=AGENT, files={"a.py": "2\n"})
    first_payload = gate.simulator.last_payload
    second = gate.simulator.push(REPO, number, author=AGENT, files={"a.py": "3\n"})
    gate.deliver("pull_request")  # the newer push arrives first
    assert [r.conclusion for r in gate.check_runs(second)] == ["action_required"]

    late = gate.deliver("pull_request", first_payload)
    assert asked_github(late)
    assert gate.check_runs(first) == []
    assert len(gate.check_runs(second)) == 1


def test_two_copies_waiting_for_one_evaluation_make_it_ask_github(gate: Gate):
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
    opened = gate.simulator.last_payload["pull_request"]
    gate.simulator.label(REPO, number, "ai-generated", sender="maintainer")
    labeled = gate.simulator.last_payload["pull_request"]
    deps = gate.app.extensions["foureyes"]
    with gate.app.app_context():
        # Delivered out of order: the newer copy is offered first.
        offer_pull(deps.state, REPO, labeled)
        offer_pull(deps.state, REPO, opened)
        gate.simulator.clear_requests()
        gh = deps.github.for_installation(gate.installed.installation_id)
        with gh:
            pull = current_pull(gh, deps.state, REPO, number)
    assert PULL in counted(gate.simulator.requests)
    assert [label["name"] for label in pull["labels"]] == ["ai-generated"]


def test_a_copy_without_the_commit_and_file_counts_is_not_offered(gate: Gate):
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
    copy = dict(gate.simulator.last_payload["pull_request"])
    del copy["commits"]  # a review payload's pull request carries no counts
    deps = gate.app.extensions["foureyes"]
    with gate.app.app_context():
        offer_pull(deps.state, REPO, copy)
        gate.simulator.clear_requests()
        gh = deps.github.for_installation(gate.installed.installation_id)
        with gh:
            pull = current_pull(gh, deps.state, REPO, number)
    assert PULL in counted(gate.simulator.requests)
    assert pull["commits"] == 1
