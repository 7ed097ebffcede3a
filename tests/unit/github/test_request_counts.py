"""GitHub requests per event on a warm cache, through the real intake and gate task.

The minimum that answers each event: a new push needs the new head's commits and files,
the open pull requests (every one at the same head shares the check) and one check-run
write, the reviews being a free 304 (a push does not change them); a review needs the
reviews, the open pull requests (whose entry for the pull request stands in for
`GET /pulls/{n}` once its head's commits and files are known) and one write. The policy
file and the second read of the open pull requests, under the commit's lock, are
conditional GETs (free 304s) when nothing changed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from app.github.gather import head_key
from app.github.publish import run_key
from app.simulator.model import RecordedRequest
from tests.unit.github.conftest import AGENT, POLICY, REPO, Gate, conditional, counted

POLICY_GET = f"GET /repos/{REPO}/contents/.github/foureyes.yml"
PULL = f"/repos/{REPO}/pulls/1"
OPEN_PULLS = f"GET /repos/{REPO}/pulls"


def warm(gate: Gate) -> int:
    """An agent's pull request, evaluated once, with `maintainer` looked up once."""
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"src/a.py": "1\n"})
    gate.deliver("pull_request")
    gate.simulator.review(REPO, number, "maintainer", state="COMMENTED")
    gate.deliver("pull_request_review")
    gate.simulator.review(REPO, number, "maintainer", state="CHANGES_REQUESTED")
    gate.deliver("pull_request_review")
    return number


def repeated(requests: list[RecordedRequest]) -> list[str]:
    """Requests GitHub counted more than once (a repeated conditional read that GitHub
    answers 304 is free: the open pull requests are read again under the commit's lock)."""
    seen = Counter(
        (r.method, r.path, tuple(sorted(r.query.items()))) for r in requests if r.status != 304
    )
    return [f"{method} {path}" for (method, path, _), n in seen.items() if n > 1]


def test_a_new_push_costs_four_requests_and_free_policy_and_review_checks(gate: Gate):
    number = warm(gate)
    head = gate.simulator.push(REPO, number, author=AGENT, files={"src/a.py": "2\n"})
    requests = gate.deliver("pull_request")
    assert sorted(counted(requests)) == sorted(
        [
            f"GET {PULL}/commits",
            f"GET {PULL}/files",
            OPEN_PULLS,
            f"POST /repos/{REPO}/check-runs",
        ]
    )
    assert sorted(conditional(requests)) == sorted([POLICY_GET, f"GET {PULL}/reviews"])
    [run] = gate.check_runs(head)
    assert run.conclusion == "action_required"


def test_a_review_on_an_unchanged_pull_request_costs_three_requests(gate: Gate):
    number = warm(gate)
    head = gate.head(number)
    gate.simulator.review(REPO, number, "maintainer")
    requests = gate.deliver("pull_request_review")
    [run] = gate.check_runs(head)
    assert sorted(counted(requests)) == sorted(
        [
            f"GET {PULL}/reviews",
            OPEN_PULLS,
            f"PATCH /repos/{REPO}/check-runs/{run.id}",
        ]
    )
    assert sorted(conditional(requests)) == sorted([POLICY_GET, OPEN_PULLS])
    assert run.conclusion == "success"


def test_a_review_on_a_head_whose_commits_are_not_cached_reads_the_pull_request(gate: Gate):
    """The open list's entry lacks the commit and file counts that tell GitHub's capped
    lists from complete ones: without the head's cached facts, `GET /pulls/{n}` is read."""
    number = warm(gate)
    pull = gate.simulator.last_payload["pull_request"]
    state = gate.app.extensions["foureyes"].state
    state.delete(head_key(REPO, pull))
    gate.simulator.review(REPO, number, "maintainer")
    requests = counted(gate.deliver("pull_request_review"))
    assert f"GET {PULL}" in requests
    assert f"GET {PULL}/commits" in requests
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == "success"


def test_permission_look_ups_are_cached_across_evaluations_for_a_bounded_time(gate: Gate):
    number = warm(gate)
    gate.simulator.review(REPO, number, "second", state="COMMENTED")
    gate.simulator.review(REPO, number, "second", state="CHANGES_REQUESTED")
    first = gate.deliver("pull_request_review")
    again = gate.deliver("pull_request_review")
    permission = f"GET /repos/{REPO}/collaborators/second/permission"
    assert counted(first).count(permission) == 1
    assert permission not in counted(again)
    # Bounded: once the cached answer expires, the next evaluation asks GitHub again.
    state = gate.app.extensions["foureyes"].state
    state.delete(f"perm:{REPO}:second")
    assert permission in counted(gate.deliver("pull_request_review"))


def test_team_memberships_are_looked_up_once_per_reviewer(gate: Gate):
    policy = (
        "version: 1\nagents: {logins: ['ci-agent-*']}\nmerge:\n  rules:\n"
        "    - name: security\n      require: {approvals: 1, teams: [acme/security]}\n"
    )
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": policy}, pusher="maintainer")
    gate.simulator.add_team_member("acme/security", "second")
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"b.py": "1\n"})
    gate.deliver("pull_request")
    gate.simulator.review(REPO, number, "second")
    first = gate.deliver("pull_request_review")
    again = gate.deliver("pull_request_review")
    membership = "GET /orgs/acme/teams/security/memberships/second"
    assert counted(first).count(membership) == 1
    assert membership not in counted(again)
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == "success"


def test_no_request_is_repeated_within_one_evaluation(gate: Gate):
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"a.py": "1\n"})
    story = [gate.deliver("pull_request")]
    gate.simulator.review(REPO, number, "maintainer")
    story.append(gate.deliver("pull_request_review"))
    gate.simulator.push(REPO, number, author=AGENT, files={"a.py": "2\n"})
    story.append(gate.deliver("pull_request"))
    gate.simulator.label(REPO, number, "ai-generated", sender="maintainer")
    story.append(gate.deliver("pull_request"))
    gate.simulator.review(REPO, number, "second")
    story.append(gate.deliver("pull_request_review"))
    for requests in story:
        assert repeated(requests) == []


def test_a_retry_after_a_lost_create_response_updates_the_run_instead_of_adding_one(
    gate: Gate,
):
    number = warm(gate)
    head = gate.simulator.push(REPO, number, author=AGENT, files={"src/a.py": "3\n"})
    sync = gate.simulator.last_payload
    gate.deliver("pull_request", sync)
    [run] = gate.check_runs(head)
    # The POST landed but its answer never arrived: no run id was cached for the head.
    gate.app.extensions["foureyes"].state.delete(run_key(REPO, head, "foureyes"))
    gate.simulator.review(REPO, number, "maintainer")
    requests = gate.deliver("pull_request_review")
    assert f"GET /repos/{REPO}/commits/{head}/check-runs" in counted(requests)
    assert f"PATCH /repos/{REPO}/check-runs/{run.id}" in counted(requests)
    [updated] = gate.check_runs(head)
    assert updated.id == run.id
    assert updated.conclusion == "success"


ORG_POLICY_GET = "GET /repos/acme/.github/contents/foureyes.yml"


@pytest.fixture(params=["repository", "organisation", "built-in"])
def configured(request: pytest.FixtureRequest, gate: Gate) -> tuple[Gate, str]:
    """The gate with the policy in the repository, only in the org's `.github`
    repository, or nowhere (the built-in default), and which of the three."""
    if request.param == "organisation":
        # Before the push: the evaluation after it remembers the org's policy absent.
        gate.simulator.add_repo("acme/.github", files={"foureyes.yml": POLICY})
    if request.param != "repository":
        gate.simulator.push_default_branch(
            REPO, {".github/foureyes.yml": None}, pusher="maintainer"
        )
        gate.deliver("push")
    return gate, request.param


def test_the_budget_per_event_holds_wherever_the_policy_lives(configured: tuple[Gate, str]):
    """Warm: a review costs at most 3 counted requests and a push at most 4, also when
    the policy files are absent (a 404 has no ETag: its absence is remembered). One of
    each is the list of open pull requests that finds every context of the head
    (invariant 9: a twin pull request must not turn the shared check green)."""
    gate, where = configured
    number = warm(gate)
    # The policy judging it is the one configured: the built-in default gates no ci-agent.
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == ("success" if where == "built-in" else "action_required")
    gate.simulator.review(REPO, number, "maintainer")
    review = counted(gate.deliver("pull_request_review"))
    gate.simulator.push(REPO, number, author=AGENT, files={"src/a.py": "2\n"})
    push = counted(gate.deliver("pull_request"))
    assert len(review) <= 3, review
    assert len(push) <= 4, push
    for requests in (review, push):
        assert POLICY_GET not in requests
        assert ORG_POLICY_GET not in requests


def test_a_policy_added_to_the_default_branch_is_read_at_once(gate: Gate):
    """The remembered absence ends with the push that adds the file."""
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": None}, pusher="maintainer")
    gate.deliver("push")
    number = gate.simulator.open_pull_request(REPO, author=AGENT, files={"src/a.py": "1\n"})
    gate.deliver("pull_request")
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == "success"  # the built-in default: ci-agent-1 is no agent
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": POLICY}, pusher="maintainer")
    requests = gate.deliver("push")
    assert f"GET {POLICY_GET.removeprefix('GET ')}" in counted(requests)
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == "action_required"  # the repository's policy: ci-agent-* gated


def test_a_copilot_review_reads_its_issue_events_for_free_once_warm(gate: Gate):
    """A catalogue agent that names its requester by assigning them (Copilot) has its
    issue events read at each evaluation (a delivery may have been missed): unchanged,
    they are a 304, and the review still costs three requests."""
    gate.simulator.add_user("Copilot", type="Bot")
    number = gate.simulator.open_pull_request(
        REPO,
        author="Copilot",
        head_ref="copilot/fix",
        files={"src/a.py": "1\n"},
        assignees=["alice"],
    )
    gate.deliver("pull_request")
    gate.simulator.review(REPO, number, "maintainer", state="CHANGES_REQUESTED")
    gate.deliver("pull_request_review")
    gate.simulator.review(REPO, number, "maintainer")
    requests = gate.deliver("pull_request_review")
    pull = f"/repos/{REPO}/pulls/{number}"
    [run] = gate.check_runs(gate.head(number))
    assert sorted(counted(requests)) == sorted(
        [f"GET {pull}/reviews", OPEN_PULLS, f"PATCH /repos/{REPO}/check-runs/{run.id}"]
    )
    assert f"GET /repos/{REPO}/issues/{number}/events" in conditional(requests)
    assert run.conclusion == "success"
