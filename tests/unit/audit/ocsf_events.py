"""One event of every audit type, with the fields its emitter passes (see each `emit` call)."""

from __future__ import annotations

from typing import Any

AGENT = "repo:acme/agents:ref:refs/heads/main"
SHA = "a" * 40
PROBLEM = {"code": "no_ruleset", "message": "no ruleset requires the foureyes check"}

EVENTS: dict[str, dict[str, Any]] = {
    # workers/webhooks.py
    "webhook.received": dict(
        subject="acme/app",
        installation_id=7,
        repository="acme/app",
        actor="alice",
        data={"event": "pull_request", "action": "opened", "delivery": "d-1", "sender": "alice"},
        key="webhook.received:d-1",
    ),
    # workers/gate.py
    "gate.evaluated": dict(
        subject="acme/app#7",
        installation_id=7,
        repository="acme/app",
        agent=AGENT,
        decision="action_required",
        reason="1 more approval needed",
        data={"head_sha": SHA, "conclusion": "action_required", "result": {"rules": []}},
    ),
    "check.published": dict(
        subject=f"acme/app@{SHA}",
        installation_id=7,
        repository="acme/app",
        decision="action_required",
        reason="1 more approval needed",
        data={"check_run_id": 12, "head_sha": SHA, "pull_request": 7},
    ),
    "policy.invalid": dict(
        subject="acme/app",
        installation_id=7,
        repository="acme/app",
        decision="invalid",
        reason="merge.rules[0].require.approvals: must be at least 1",
        data={"source": "acme/app:.github/foureyes.yml", "errors": []},
    ),
    # app/identity/broker.py
    "token.issued": dict(
        subject="token:t1",
        installation_id=7,
        repository="acme/app",
        agent=AGENT,
        actor="alice",
        decision="issued",
        data={
            "token_id": "t1",
            "token_sha256": "b" * 64,
            "permissions": {"contents": "write", "pull_requests": "write"},
            "ttl": 900,
            "rule": "ci agents",
            "branch_prefix": "agents/t1/",
            "on_behalf_of": "alice",
            "task": "fix the flaky test",
        },
    ),
    "token.denied": dict(
        subject="acme/app",
        installation_id=7,
        repository="acme/app",
        agent=AGENT,
        actor="alice",
        decision="denied",
        reason="administration is never granted to an agent",
    ),
    # app/identity/revoke.py
    "token.revoked": dict(
        subject="token:t1",
        installation_id=7,
        repository="acme/app",
        agent=AGENT,
        decision="revoked",
        reason="revoked by the agent",
        data={"token_id": "t1", "token_sha256": "b" * 64},
    ),
    # app/identity/escalation.py and decide.py
    "escalation.requested": dict(
        subject="escalation:e1",
        installation_id=7,
        repository="acme/app",
        agent=AGENT,
        actor="alice",
        decision="pending",
        reason="workflows needs a human's approval",
        data={"escalation_id": "e1", "permissions": {"workflows": "write"}, "ttl": 3600},
    ),
    "escalation.approved": dict(
        subject="escalation:e1",
        installation_id=7,
        repository="acme/app",
        actor="bob",
        agent=AGENT,
        decision="approved",
        reason="approved by bob on issue #9",
        data={"escalation_id": "e1", "permissions": {"workflows": "write"}, "issue": 9},
    ),
    "escalation.denied": dict(
        subject="escalation:e2",
        installation_id=7,
        repository="acme/app",
        actor="bob",
        agent=AGENT,
        decision="denied",
        reason="denied by bob on issue #10",
        data={"escalation_id": "e2", "permissions": {"workflows": "write"}, "issue": 10},
    ),
    # app/deploy/outcome.py
    "deployment.approved": dict(
        subject=f"deployment:staging@{SHA}",
        installation_id=7,
        repository="acme/app",
        actor="bob",
        agent=AGENT,
        decision="approved",
        reason="approved by bob",
        data={"environment": "staging", "sha": SHA, "run_id": 3, "deployment_id": 4},
    ),
    "deployment.rejected": dict(
        subject=f"deployment:production@{SHA}",
        installation_id=7,
        repository="acme/app",
        actor="ci-agent-1",
        agent=AGENT,
        decision="rejected",
        reason="agents may not deploy to production",
        data={"environment": "production", "sha": SHA, "run_id": 5, "deployment_id": 6},
    ),
    # app/deploy/workflow_guard.py
    "workflow_run.cancelled": dict(
        subject="acme/app#7",
        installation_id=7,
        repository="acme/app",
        actor="ci-agent-1",
        agent=AGENT,
        decision="cancelled",
        reason="The run uses a workflow an agent changed. Agent involvement: pushed by agent",
        data={"run_id": 3, "run_attempt": 1, "workflow": ".github/workflows/ci.yml"},
    ),
    "workflow_run.flagged": dict(
        subject="acme/app#7",
        installation_id=7,
        repository="acme/app",
        actor="ci-agent-1",
        agent=AGENT,
        decision="flagged",
        reason="The run uses a workflow an agent changed. Agent involvement: pushed by agent",
        data={"run_id": 3, "run_attempt": 1, "workflow": ".github/workflows/ci.yml"},
    ),
    # app/deploy/push_guard.py
    "push.flagged": dict(
        subject=f"acme/app@{SHA}",
        installation_id=7,
        repository="acme/app",
        actor="ci-agent-1",
        agent=AGENT,
        decision="flagged",
        reason="pushed to the default branch",
        data={"ref": "refs/heads/main", "reasons": ["pushed to the default branch"]},
    ),
    # app/doctor/drift.py
    "config.drift": dict(
        subject="acme/app",
        installation_id=7,
        repository="acme/app",
        decision="not_enforced",
        reason="1 problem(s): no ruleset requires the foureyes check",
        data={"problems": [PROBLEM], "digest": "c" * 64, "previous_digest": None},
    ),
}
