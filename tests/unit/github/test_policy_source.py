"""The policy source named on every decision carries the policy's content digest."""

from __future__ import annotations

from tests.markdown import unescaped
from tests.unit.github.conftest import AGENT, POLICY, REPO, Gate


def test_a_changed_policy_changes_the_check_runs_external_id(gate: Gate):
    number = gate.simulator.open_pull_request(
        REPO, author=AGENT, head_ref="fix", files={"a.py": "1\n"}
    )
    gate.deliver("pull_request")
    head = gate.head(number)
    (before,) = gate.check_runs(head)
    assert f"{REPO}:.github/foureyes.yml@main (sha256 " in unescaped(before.output["summary"])
    old_id, old_summary = before.external_id, before.output["summary"]

    stricter = POLICY.replace("approvals: 1", "approvals: 2")
    gate.simulator.push_default_branch(REPO, {".github/foureyes.yml": stricter}, pusher="second")
    gate.deliver("push")
    (after,) = gate.check_runs(head)
    assert after.id == before.id
    assert after.external_id != old_id
    assert "2 more approvals" in unescaped(after.output["summary"])
    assert "1 more approval" in unescaped(old_summary)
