"""Attack 9: "no gate needed" is not a countersignature.

The merge gate passes a pull request that needs no approval (no agent involvement, or no
rule covers it). That success was recorded as if a human had countersigned the head, so
the deployment gate let the agent's unreviewed commits deploy. Only heads that eligible
humans approved, as the gate counted them, countersign a commit now.
"""

from __future__ import annotations

from app.simulator import payloads
from app.simulator.governance import add_ruleset, status_checks_rule
from tests.attacks.helpers import app_bot
from tests.unit.github.conftest import REPO, Gate

POLICY = """\
version: 1
merge:
  rules:
    - name: human review
      if: {agent: true, base: [main]}
      require: {approvals: 1, permission: write}
deployments:
  "*": {agents: reject}
"""


def setup(gate: Gate) -> str:
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": POLICY}, pusher="second")
    gate.simulator.push_branch(REPO, "scratch", {"notes.md": "x\n"}, pusher="second")
    return app_bot(gate)


def deploy(gate: Gate, ref: str, sha: str) -> str | None:
    _, run_id = gate.simulator.request_deployment(
        REPO, environment="staging", creator="maintainer", ref=ref, sha=sha
    )
    gate.deliver("deployment_protection_rule")
    return gate.simulator.deployment_gate(run_id, "staging")


def test_an_agent_head_that_passed_with_no_rule_applying_does_not_deploy(gate: Gate):
    bot = setup(gate)
    number = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/x", base="scratch", files={"pay.py": "steal()\n"}
    )
    gate.deliver("pull_request")
    head = gate.head(number)
    [run] = gate.check_runs(head)
    # The policy asks nothing of pull requests into scratch, but an agent's commit shows
    # no `success` for another base: a pull request from it into main would be born green.
    assert run.conclusion == "action_required"
    assert "passes into scratch only" in run.output["title"]
    assert deploy(gate, "agents/x", head) == "rejected"


def test_an_agent_head_a_human_approved_deploys(gate: Gate):
    bot = setup(gate)
    number = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/y", files={"pay.py": "fix()\n"}
    )
    gate.deliver("pull_request")
    gate.simulator.review(REPO, number, "maintainer")
    gate.deliver("pull_request_review")
    head = gate.head(number)
    assert gate.check_runs(head)[0].conclusion == "success"
    assert deploy(gate, "agents/y", head) == "approved"


def test_a_human_deploys_human_code_that_needed_no_gate(gate: Gate):
    setup(gate)
    gate.simulator.set_role(REPO, "coder", "write")
    number = gate.simulator.open_pull_request(
        REPO, author="coder", head_ref="feature", files={"a.py": "1\n"}
    )
    gate.deliver("pull_request")
    head = gate.head(number)
    assert gate.check_runs(head)[0].conclusion == "success"
    assert deploy(gate, "feature", head) == "approved"


def test_the_merge_of_a_head_nobody_approved_does_not_deploy(gate: Gate):
    """The merge of such a head is no countersignature either (its green check is not
    asked: it may mean that no approval was needed)."""
    bot = setup(gate)
    number = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/z", base="scratch", files={"pay.py": "steal()\n"}
    )
    gate.deliver("pull_request")
    merge_sha = gate.simulator.merge(REPO, number, merged_by="second")
    world = gate.simulator.world
    with world.lock:
        record = world.repo(REPO)
        installation = world.installations[gate.installed.installation_id]
        closed = payloads.pull_request_event(
            world, installation, record, record.pulls[number], "closed", "second"
        )
    gate.deliver("pull_request", closed)
    assert deploy(gate, "scratch", merge_sha) == "rejected"


def test_an_agent_pull_request_into_a_base_whose_ruleset_requires_checks_can_pass(gate: Gate):
    """Held to its base only where the check decides nothing: into a branch a ruleset
    guards with required checks (a release branch), the check must be able to pass."""
    bot = setup(gate)
    gate.simulator.push_branch(REPO, "release", {"notes.md": "r\n"}, pusher="second")
    add_ruleset(
        gate.simulator.world,
        REPO,
        [status_checks_rule(("foureyes", gate.installed.app_id))],
        name="release",
        include=("refs/heads/release",),
    )
    number = gate.simulator.open_pull_request(
        REPO, author=bot, head_ref="agents/y", base="release", files={"fix.py": "fix()\n"}
    )
    gate.deliver("pull_request")
    [run] = gate.check_runs(gate.head(number))
    assert run.conclusion == "success"  # no rule covers release; its ruleset needs the check
