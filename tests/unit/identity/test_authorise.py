"""Authorisation of token requests: the floor, the rules, exact permissions, the TTL."""

from __future__ import annotations

import pytest

from app.identity.authorise import (
    Denial,
    Escalate,
    Grant,
    authorise,
    branch_prefix,
    floor_violation,
)
from app.identity.verify import WorkloadIdentity
from app.policy.load import load_policy
from app.policy.schema import Policy, TokenRule

ACTIONS = "https://token.actions.githubusercontent.com"

POLICY = load_policy(
    f"""
version: 1
tokens:
  - name: ci agents
    issuer: {ACTIONS}
    subject: "repo:acme/agents:ref:refs/heads/**"
    claims: {{job_workflow_ref: "acme/agents/.github/workflows/agent.yml@*/**"}}
    permissions: {{contents: write, pull_requests: write, issues: read, workflows: write}}
    max_ttl: 900
  - name: immutable
    issuer: {ACTIONS}
    subject: "repo:acme@1001/agents@2002:**"
    permissions: {{contents: read}}
""",
    "test",
)


def identity(subject="repo:acme/agents:ref:refs/heads/main", **claims) -> WorkloadIdentity:
    base = {"job_workflow_ref": "acme/agents/.github/workflows/agent.yml@refs/heads/main"}
    return WorkloadIdentity(ACTIONS, subject, 0.0, "k", {**base, **claims})


def test_grants_exactly_what_was_asked_when_the_rule_allows_it():
    decision = authorise(POLICY, identity(), {"contents": "write"}, 300)
    assert decision == Grant("ci agents", {"contents": "write"}, 300)


def test_write_in_the_rule_covers_read():
    decision = authorise(POLICY, identity(), {"pull_requests": "read"}, None)
    assert isinstance(decision, Grant)
    assert decision.permissions == {"pull_requests": "read"}


def test_ttl_is_capped_by_the_rule():
    assert authorise(POLICY, identity(), {"contents": "read"}, 3600).ttl == 900
    assert authorise(POLICY, identity(), {"contents": "read"}, None).ttl == 900


@pytest.mark.parametrize(
    "permissions, beyond",
    [
        ({"pages": "write"}, ["pages: write"]),
        ({"actions": "read"}, ["actions: read"]),
        ({"contents": "write", "workflows": "write"}, ["workflows: write"]),
    ],
)
def test_more_than_the_rule_or_workflows_needs_an_escalation(permissions, beyond):
    decision = authorise(POLICY, identity(), permissions, 600)
    assert decision == Escalate("ci agents", beyond, 600)


@pytest.mark.parametrize(
    "permissions, named",
    [
        ({"administration": "read"}, "administration"),
        ({"secrets": "read"}, "secrets"),
        ({"environments": "write"}, "environments"),
        ({"checks": "write"}, "checks"),
        ({"checks": "read"}, "checks"),
        ({"statuses": "write"}, "statuses"),
        ({"deployments": "write"}, "deployments"),
        ({"repository_custom_properties": "write"}, "repository_custom_properties"),
        ({"actions": "write"}, "actions: write"),
        ({"issues": "write"}, "issues: write"),
        ({"organization_administration": "read"}, "organization_administration"),
        ({"members": "read"}, "members"),
        ({"contents": "write", "dependabot_secrets": "read"}, "dependabot_secrets"),
    ],
)
def test_the_floor_is_denied_whatever_the_rules_say(permissions, named):
    # The schema refuses such a rule (test_load); built unvalidated, the floor still holds.
    reckless = TokenRule.model_construct(
        name="reckless",
        issuer=ACTIONS,
        subject="**",
        claims={},
        permissions={name: "write" for name in permissions} | {"contents": "write"},
        max_ttl=3600,
    )
    floor_policy = Policy.model_construct(tokens=(reckless,))
    decision = authorise(floor_policy, identity(), permissions, None)
    assert isinstance(decision, Denial)
    assert named in decision.reason
    assert floor_violation(permissions) == named


def test_actions_and_issues_read_are_above_the_floor():
    assert floor_violation({"actions": "read", "issues": "read"}) is None


@pytest.mark.parametrize(
    "who",
    [
        identity(subject="repo:acme/other:ref:refs/heads/main"),
        identity(job_workflow_ref="acme/agents/.github/workflows/evil.yml@refs/heads/main"),
        WorkloadIdentity("https://other.example", "repo:acme/agents:ref:refs/heads/main", 0, "k"),
        identity(subject="repo:acme/agents:ref:refs/heads/main", job_workflow_ref=None),
    ],
)
def test_identities_no_rule_names_are_denied_not_escalated(who):
    decision = authorise(POLICY, who, {"contents": "read"}, None)
    assert isinstance(decision, Denial)
    assert "no token rule" in decision.reason


def test_the_immutable_subject_format_matches_its_own_rule():
    who = identity(subject="repo:acme@1001/agents@2002:ref:refs/heads/main")
    assert authorise(POLICY, who, {"contents": "read"}, None) == Grant(
        "immutable", {"contents": "read"}, 3600
    )


def test_no_tokens_section_denies_everyone():
    decision = authorise(load_policy("version: 1\n", "test"), identity(), {"contents": "read"}, 60)
    assert isinstance(decision, Denial)


def test_branch_prefix_is_a_slug_of_the_rule_and_the_token_id():
    assert branch_prefix("CI agents!", "abc123") == "agents/ci-agents/abc123/"
