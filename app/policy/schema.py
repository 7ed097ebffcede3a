"""The policy file `.github/foureyes.yml`, version 1, as frozen pydantic models.

Every key is optional and unknown keys are errors (`extra="forbid"`). Scalars are
strict: YAML's `yes` is not an approval count and `"2"` is not a number, so a typo
surfaces as an error instead of a silently different policy. Parsing YAML text into
these models is `app.policy.load`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
)

from app.policy.globs import glob_match
from app.policy.permissions import KNOWN_PERMISSIONS

Permission = Literal["read", "triage", "write", "maintain", "admin"]
DeploymentVerdict = Literal["reject", "require_approval", "allow"]
MAX_TOKEN_TTL = 3600

_LOGIN_GLOB = re.compile(r"[A-Za-z0-9_*?-]+(?:\[bot\])?")
_TEAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def _check(pattern: re.Pattern[str], message: str) -> AfterValidator:
    def validate(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(message)
        return value

    return AfterValidator(validate)


Glob = Annotated[StrictStr, StringConstraints(min_length=1)]
Login = Annotated[StrictStr, _check(_LOGIN_GLOB, "not a GitHub login (or login glob)")]
Team = Annotated[StrictStr, _check(_TEAM, "teams are written org/slug")]


def _known_permission(name: str) -> str:
    if name not in KNOWN_PERMISSIONS:
        raise ValueError("not a GitHub App permission name")
    return name


PermissionName = Annotated[StrictStr, AfterValidator(_known_permission)]
TokenPermissions = dict[PermissionName, Literal["read", "write"]]


def _only_version_1(value: int) -> int:
    if value != 1:
        raise ValueError("only version 1 is supported")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Agents(_Model):
    """Who counts as an agent, besides this app's own bot: the built-in catalogue's
    entries (`known`: all, none, or a list of names and kinds), and these globs."""

    known: StrictBool | tuple[StrictStr, ...] = True
    logins: tuple[Login, ...] = ()  # globs, case-insensitive
    branches: tuple[Glob, ...] = ()  # head-branch globs
    labels: tuple[Glob, ...] = ()  # label globs, case-insensitive

    @field_validator("known", mode="before")
    @classmethod
    def _catalogued(cls, value: object) -> object:
        from app.policy.catalogue import KINDS, catalogue

        if isinstance(value, bool):
            return value
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("should be true, false or a list of catalogue names and kinds")
        known = {*catalogue().names(), *KINDS}
        unknown = [name for name in value if name.lower() not in known]
        if unknown:
            raise ValueError(
                f"not in the agent catalogue: {', '.join(unknown)}"
                f" (known: {', '.join(sorted(known))}; `foureyes agents` lists them)"
            )
        return value


class Condition(_Model):
    """A rule's `if`: every key given must match; a key that is absent does not constrain.

    `agent: true` matches pull requests with agent involvement, `agent: false` those
    without, and no `agent` key matches both. A list matches when any item does:
    `paths` against any changed file, `base`/`head` against the branch names, `labels`
    against any label (case-insensitive), `authors` against the author's login.
    """

    agent: StrictBool | None = None
    paths: tuple[Glob, ...] | None = None
    base: tuple[Glob, ...] | None = None
    head: tuple[Glob, ...] | None = None
    labels: tuple[Glob, ...] | None = None
    authors: tuple[Login, ...] | None = None


class Requirement(_Model):
    """A rule's `require`: `approvals` distinct eligible humans with at least `permission`,
    in any of `teams` when given, among `users` when given."""

    approvals: StrictInt = Field(1, ge=1)
    permission: Permission = "write"
    teams: tuple[Team, ...] = ()
    users: tuple[Login, ...] = ()


class Rule(_Model):
    """One merge rule. Without an `if` key it applies to agent pull requests only
    (`if: {agent: true}`); an explicit `if` applies exactly as written."""

    name: Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]
    condition: Condition = Field(default_factory=lambda: Condition(agent=True), alias="if")
    require: Requirement = Requirement()


def _default_rules() -> tuple[Rule, ...]:
    return (Rule(name="human review"),)


class Merge(_Model):
    rules: tuple[Rule, ...] = Field(default_factory=_default_rules)
    allow_contributors: StrictBool = False
    gate_humans: StrictBool = False


class Deployment(_Model):
    agents: DeploymentVerdict = "require_approval"


def _default_deployments() -> dict[str, Deployment]:
    return {"*": Deployment(agents="require_approval")}


class Workflows(_Model):
    agent_changes: Literal["cancel", "flag", "allow"] = "cancel"


class TokenRule(_Model):
    """Which workload identities may get which tokens for this repository.

    `subject` and each `claims` value are globs over the JWT's claims; `permissions`
    names GitHub App permissions (`contents`, `pull_requests`...). The broker refuses a
    permission on the server's floor (`app.policy.permissions`: deployments, checks,
    `actions: write`, `issues: write`...) whatever a rule says; `foureyes policy check`
    reports a rule that names one (`app.policy.lint`). The server does not reject the
    whole policy for it: the merge gate's rules stand, and the floor holds at the broker.
    """

    name: Annotated[StrictStr, StringConstraints(min_length=1, max_length=100)]
    issuer: Annotated[StrictStr, StringConstraints(min_length=1)]
    subject: Glob
    claims: dict[StrictStr, Glob] = {}
    permissions: TokenPermissions = {}
    max_ttl: StrictInt = Field(MAX_TOKEN_TTL, ge=1, le=MAX_TOKEN_TTL)


class Approvers(_Model):
    permission: Permission = "admin"
    teams: tuple[Team, ...] = ()
    users: tuple[Login, ...] = ()


class Escalations(_Model):
    approvers: Approvers = Approvers()
    ttl: StrictInt = Field(3600, ge=60, le=86400)


class Policy(_Model):
    """The whole policy file. `Policy()` is the built-in default."""

    version: Annotated[StrictInt, AfterValidator(_only_version_1)] = 1
    # observe: judge and explain everything, enforce nothing (the check concludes
    # `neutral`, titled "Would block:" or "Would pass:"); for rolling out.
    mode: Literal["enforce", "observe"] = "enforce"
    agents: Agents = Agents()
    merge: Merge = Merge()
    deployments: dict[Glob, Deployment] = Field(default_factory=_default_deployments)
    workflows: Workflows = Workflows()
    tokens: tuple[TokenRule, ...] = ()
    escalations: Escalations = Escalations()


# The built-in default, for a repository with no policy anywhere. A policy carries no
# record of its origin: the caller keeps the source next to it (`app.github.gather`'s
# `LoadedPolicy`) and hands both to `evaluate(policy, facts, policy_source)`.
DEFAULT_POLICY = Policy()


def match_deployment(policy: Policy, environment: str) -> DeploymentVerdict:
    """The verdict for agents deploying to `environment`: the first matching glob wins,
    `require_approval` when none matches. GitHub environment names are
    case-insensitive, so the match is too (`Production` must not dodge `production`)."""
    for pattern, deployment in policy.deployments.items():
        if glob_match(pattern, environment, case_sensitive=False):
            return deployment.agents
    return "require_approval"


def token_rules(policy: Policy) -> tuple[TokenRule, ...]:
    """The repository's token rules, in file order."""
    return policy.tokens
