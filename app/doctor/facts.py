"""What the doctor reads from GitHub about a repository and the app, frozen before judging.

Bodies are kept as GitHub returns them (plain JSON) so the checks read GitHub's own
field names. `None` means GitHub would not show it (missing permission) unless noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.policy.schema import Policy

Json = dict[str, Any]


@dataclass(frozen=True)
class RepoFacts:
    repository: str
    installation_id: int
    default_branch: str
    archived: bool = False
    # `GET /repos/{o}/{r}/rules/branches/{default}`: the active rules on the branch.
    branch_rules: tuple[Json, ...] = ()
    # ruleset id -> `GET /repos/{o}/{r}/rulesets/{id}`, for rulesets that require the
    # check; None when it could not be read (an organisation's ruleset, say).
    rulesets: dict[int, Json | None] = field(default_factory=dict)
    # `GET .../branches/{default}/protection`: None when the branch is not protected.
    protection: Json | None = None
    protection_readable: bool = True
    # Environment names (`GET .../environments`); None when they could not be listed.
    environments: tuple[str, ...] | None = ()
    # environment -> its enabled custom protection rules.
    environment_rules: dict[str, tuple[Json, ...]] = field(default_factory=dict)
    policy: Policy | None = None
    policy_source: str = ""
    policy_error: str | None = None
    # app id -> login, for the agents named in the policy that are apps.
    agent_apps: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AppFacts:
    app_id: int
    slug: str
    permissions: dict[str, str]
    events: tuple[str, ...]
    # installation id -> (account, permissions, suspended)
    installations: dict[int, tuple[str, dict[str, str], bool]] = field(default_factory=dict)
