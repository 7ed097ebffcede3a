"""Invariant 13: nothing an agent controls can suppress an audit event or a flag;
secrets in input are redacted, never a reason to drop the event.

`app/audit/guard.py::refuse_secrets` raises ValueError for any field that looks like a
GitHub token. Text the agent chooses reaches those fields: a branch named like a token
(`ghp_` and 36 letters is a valid ref name) is in the push flag's reason, in a
deployment's `ref`, and a repository name or task text is in the broker's events.
The event is dropped, and with it whatever came after it in the handler.
"""

from __future__ import annotations

import httpx

from tests.attacks.harness import ADMIN, POLICY, REPO, Attack

LOOKS_LIKE_A_TOKEN = "ghp_" + "A" * 36


def test_a_branch_named_like_a_token_does_not_suppress_the_push_flag(attack: Attack):
    agent = attack.agent("agent:acme/fixer", "alice")
    # Outside the token's branch prefix: the push guard flags it.
    agent.create_branch(LOOKS_LIKE_A_TOKEN, attack.main())
    sha = agent.commit(LOOKS_LIKE_A_TOKEN, "src/app.py", "print('payload')\n")

    flagged = [event.subject for event in attack.events("push.flagged")]
    assert f"{REPO}@{sha}" in flagged, f"no push.flagged for {sha[:7]}: {flagged}"


def test_a_branch_named_like_a_token_does_not_suppress_the_deployment_record(attack: Attack):
    policy = POLICY.format(issuer=attack.stack.issuer.url) + (
        'deployments:\n  staging: {agents: allow}\n  "*": {agents: require_approval}\n'
    )
    attack.sim.push_default_branch(REPO, {".github/foureyes.yml": policy}, pusher=ADMIN)
    agent = attack.agent("agent:acme/fixer", "alice")
    branch = f"{agent.branch_prefix}{LOOKS_LIKE_A_TOKEN}"
    agent.create_branch(branch, attack.main())
    agent.commit(branch, "src/app.py", "print('payload')\n")

    # A workflow the agent's push started deploys its branch (the run's actor is the bot).
    _deployment, run_id = attack.sim.request_deployment(
        REPO,
        environment="staging",
        creator="github-actions[bot]",
        ref=branch,
        triggering_actor=attack.bot,
    )
    assert attack.sim.deployment_gate(run_id, "staging") == "approved"  # the policy allows it
    recorded = attack.events("deployment.approved")
    assert recorded, "the agent's deployment went out and the audit trail has no record of it"


def test_a_repository_name_like_a_token_does_not_suppress_the_denial(attack: Attack):
    jwt = attack.stack.agent_jwt("agent:acme/fixer", on_behalf_of="alice")
    answer = httpx.post(
        f"{attack.stack.url}/api/tokens",
        json={"repository": f"acme/{LOOKS_LIKE_A_TOKEN}", "permissions": {"contents": "write"}},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=30,
    )
    assert attack.events("token.denied"), f"the refused request left no token.denied: {answer.text}"
    assert answer.status_code in (403, 404), answer.text
