"""Pure authorisation of a token request: the floor, the repository's rules, the TTL.

The floor (`app.policy.permissions`) is the server's: checked first, before any rule.

No I/O: the caller gathers the policy and the proven identity, and acts on the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app.identity.verify import WorkloadIdentity
from app.policy.globs import glob_match
from app.policy.permissions import floor_violation
from app.policy.schema import MAX_TOKEN_TTL, Policy, TokenRule

# Never granted by a rule alone: a human approves each use (an escalation).
ALWAYS_ESCALATE = frozenset({"workflows"})
LEVELS = ("read", "write")


def rule_matches(rule: TokenRule, identity: WorkloadIdentity) -> bool:
    """Same issuer, the subject glob, and every claim glob (scalar claims only)."""
    if rule.issuer != identity.issuer or not glob_match(rule.subject, identity.subject):
        return False
    return all(
        _scalar(identity.claims.get(name)) is not None
        and glob_match(pattern, _scalar(identity.claims.get(name)) or "")
        for name, pattern in rule.claims.items()
    )


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    return None


def beyond_rule(rule: TokenRule, permissions: dict[str, str]) -> list[str]:
    """The asked permissions the rule does not grant (`write` grants `read` too)."""
    outside = []
    for name, level in sorted(permissions.items()):
        allowed = rule.permissions.get(name)
        if (
            name in ALWAYS_ESCALATE
            or allowed is None
            or LEVELS.index(level) > LEVELS.index(allowed)
        ):
            outside.append(f"{name}: {level}")
    return outside


@dataclass(frozen=True)
class Grant:
    rule: str
    permissions: dict[str, str]
    ttl: int


@dataclass(frozen=True)
class Denial:
    reason: str


@dataclass(frozen=True)
class Escalate:
    """The identity has a rule here, but asks for more than any of its rules grants."""

    rule: str
    beyond: list[str]
    ttl: int


def authorise(
    policy: Policy, identity: WorkloadIdentity, permissions: dict[str, str], ttl: int | None
) -> Grant | Denial | Escalate:
    """Exactly the asked permissions under the first matching rule that allows them all.

    An identity no rule names is denied outright (anyone's CI can hold a token from a
    shared issuer such as GitHub Actions: only those a rule names may ask a human).
    """
    floor = floor_violation(permissions)
    if floor:
        return Denial(f"{floor} is never granted to agents")
    rules = [rule for rule in policy.tokens if rule_matches(rule, identity)]
    if not rules:
        return Denial("no token rule of the repository's policy matches this identity")
    for rule in rules:
        if not beyond_rule(rule, permissions):
            granted_ttl = min(ttl or rule.max_ttl, rule.max_ttl, MAX_TOKEN_TTL)
            return Grant(rule.name, dict(permissions), granted_ttl)
    return Escalate(rules[0].name, beyond_rule(rules[0], permissions), ttl or MAX_TOKEN_TTL)


def branch_prefix(rule: str, token_id: str) -> str:
    """`agents/<rule as a slug>/<token_id>/`: the branches that link a PR to a token."""
    slug = re.sub(r"[^a-z0-9]+", "-", rule.lower()).strip("-") or "rule"
    return f"agents/{slug}/{token_id}/"
