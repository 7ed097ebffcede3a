"""Observe mode (`mode: observe`): everything is judged and explained, nothing enforced.

The check concludes `neutral`, titled by what enforcing would do; deployments go ahead
with an answer saying what enforcing would have done; the audit records the verdict and
the mode. An org's `.github` policy can observe while a repository's own policy enforces.
"""

from __future__ import annotations

from tests.attacks.helpers import audit_events
from tests.unit.github.conftest import REPO, Gate

OBSERVE = """\
version: 1
mode: observe
deployments:
  "*": {agents: reject}
"""


def agent_pull(gate: Gate, policy: str | None = OBSERVE) -> int:
    if policy is not None:
        gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": policy}, pusher="second")
    number = gate.simulator.open_pull_request(
        REPO, author="copilot-swe-agent[bot]", head_ref="copilot/fix", files={"a.py": "1\n"}
    )
    gate.deliver("pull_request")
    return number


def test_an_agent_pull_request_would_block_and_the_check_is_neutral(gate: Gate):
    number = agent_pull(gate)
    [run] = gate.check_runs(gate.head(number))

    assert run.conclusion == "neutral"
    assert run.output["title"].startswith("Would block: human review needs 1 more approval")
    assert "The policy's mode is observe" in run.output["text"]
    [evaluated] = audit_events(gate, "gate.evaluated")
    assert evaluated.decision == "action_required"
    assert evaluated.data["mode"] == "observe"
    assert evaluated.data["published"] == "neutral"
    [published] = audit_events(gate, "check.published")
    assert (published.decision, published.data["verdict"]) == ("neutral", "action_required")


def test_an_approved_agent_pull_request_would_pass(gate: Gate):
    number = agent_pull(gate)
    gate.simulator.review(REPO, number, "maintainer")
    gate.deliver("pull_request_review")
    [run] = gate.check_runs(gate.head(number))

    assert run.conclusion == "neutral"
    assert run.output["title"] == "Would pass: Approved by maintainer"


def test_enforce_is_the_default(gate: Gate):
    number = agent_pull(gate, policy=None)
    [run] = gate.check_runs(gate.head(number))

    assert run.conclusion == "action_required"
    assert run.output["title"].startswith("Blocked: ")


def test_a_deployment_that_enforcing_would_reject_goes_ahead_and_says_so(gate: Gate):
    number = agent_pull(gate)
    head = gate.head(number)
    _, run_id = gate.simulator.request_deployment(
        REPO,
        environment="production",
        creator="copilot-swe-agent[bot]",
        ref="copilot/fix",
        sha=head,
    )
    gate.deliver("deployment_protection_rule")

    assert gate.simulator.deployment_gate(run_id, "production") == "approved"
    [review] = gate.simulator.deployment_reviews(run_id)
    assert review.comment.startswith(
        "foureyes (observe mode): approved; enforcing would have rejected it."
    )
    [approved] = audit_events(gate, "deployment.approved")
    assert approved.data["mode"] == "observe"
    assert approved.data["verdict"] == "reject"
    assert approved.data["outcome"] == "observed"


def test_an_org_observes_while_one_repository_enforces(gate: Gate):
    owner = REPO.split("/")[0]
    gate.simulator.add_repo(f"{owner}/.github", files={"foureyes.yml": OBSERVE})
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": None}, pusher="second")
    gate.deliver("push")
    observed = agent_pull(gate, policy=None)
    assert gate.check_runs(gate.head(observed))[-1].conclusion == "neutral"

    gate.simulator.push_default_branch(
        REPO, {".github/foureyes.yml": "version: 1\nmode: enforce\n"}, pusher="second"
    )
    gate.deliver("push")
    assert gate.check_runs(gate.head(observed))[-1].conclusion == "action_required"


def test_a_merge_group_in_observe_mode_is_neutral(gate: Gate):
    number = agent_pull(gate)
    gate.simulator.merge_group(REPO, [number])
    gate.deliver("merge_group")
    group_runs = [
        run for run in gate.simulator.world.check_runs.values() if run.head_sha != gate.head(number)
    ]
    assert group_runs and group_runs[-1].conclusion == "neutral"
    assert group_runs[-1].output["title"].startswith("Would block: ")
