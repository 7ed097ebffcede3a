"""Repository settings that govern merges and deployments, and apps registered from a manifest.

Rulesets, classic branch protection, deployment environments with their custom protection
rules, and pending manifest codes: the state behind `routes_rulesets` and
`routes_manifest`. It hangs off a `World` without changing that class (`governance(world)`),
and the functions below are the story helpers tests and the demo set it up with. Mutate
under `world.lock`.
"""

from __future__ import annotations

import fnmatch
import secrets
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.simulator.world import World

# The account a browser is signed in as on the simulated github.com (the manifest flow).
BROWSER_USER = "octo-admin"


@dataclass
class ProtectionRule:
    """A custom deployment protection rule: an app that approves or rejects deployments."""

    id: int
    app_id: int
    enabled: bool = True


@dataclass
class Environment:
    id: int
    name: str
    created_at: datetime
    rules: list[ProtectionRule] = field(default_factory=list)


@dataclass
class BranchProtection:
    """Classic branch protection: required checks as (context, app id or None), reviews."""

    checks: list[tuple[str, int | None]]
    strict: bool = False
    enforce_admins: bool = True
    dismiss_stale_reviews: bool = False
    required_approving_review_count: int = 1


@dataclass
class PendingManifest:
    """A manifest posted to the "new app" page, waiting for its code to be converted."""

    code: str
    manifest: dict[str, Any]
    owner: str
    expires_at: datetime


@dataclass
class Governance:
    # repository full name (lower case) -> ruleset id -> ruleset (GitHub's fields)
    rulesets: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    # repository full name (lower case) -> branch -> protection
    protections: dict[str, dict[str, BranchProtection]] = field(default_factory=dict)
    # repository full name (lower case) -> environment name (lower case) -> environment
    environments: dict[str, dict[str, Environment]] = field(default_factory=dict)
    manifests: dict[str, PendingManifest] = field(default_factory=dict)
    client_secrets: dict[int, str] = field(default_factory=dict, repr=False)


_STATE: weakref.WeakKeyDictionary[World, Governance] = weakref.WeakKeyDictionary()


def governance(world: World) -> Governance:
    """The governance state of `world`, created on first use."""
    with world.lock:
        state = _STATE.get(world)
        if state is None:
            state = _STATE[world] = Governance()
        return state


# -- rules of a ruleset --------------------------------------------------------------
def status_checks_rule(*checks: tuple[str, int | None], strict: bool = False) -> dict[str, Any]:
    """A `required_status_checks` rule; each check is (context, integration id or None)."""
    required = []
    for context, integration_id in checks:
        item: dict[str, Any] = {"context": context}
        if integration_id is not None:
            item["integration_id"] = integration_id
        required.append(item)
    return {
        "type": "required_status_checks",
        "parameters": {
            "required_status_checks": required,
            "strict_required_status_checks_policy": strict,
            "do_not_enforce_on_create": False,
        },
    }


def pull_request_rule(*, approvals: int = 1, dismiss_stale_reviews: bool = False) -> dict[str, Any]:
    return {
        "type": "pull_request",
        "parameters": {
            "required_approving_review_count": approvals,
            "dismiss_stale_reviews_on_push": dismiss_stale_reviews,
            "require_code_owner_review": False,
            "require_last_push_approval": False,
            "required_review_thread_resolution": False,
            "allowed_merge_methods": ["merge", "squash", "rebase"],
        },
    }


def bypass(actor_type: str, actor_id: int | None = None, mode: str = "always") -> dict[str, Any]:
    """A bypass actor: `Integration` (an app id), `OrganizationAdmin`, `RepositoryRole`,
    `Team` or `DeployKey`."""
    return {"actor_id": actor_id, "actor_type": actor_type, "bypass_mode": mode}


# -- story helpers -------------------------------------------------------------------
def add_ruleset(
    world: World,
    repo: str,
    rules: list[dict[str, Any]],
    *,
    name: str = "protect the default branch",
    bypass_actors: list[dict[str, Any]] | None = None,
    enforcement: str = "active",
    include: tuple[str, ...] = ("~DEFAULT_BRANCH",),
    exclude: tuple[str, ...] = (),
) -> int:
    """A branch ruleset on `repo`; returns its id."""
    with world.lock:
        record = world.repo(repo)
        ruleset_id = world.next_id()
        now = world.now()
        governance(world).rulesets.setdefault(record.full_name.lower(), {})[ruleset_id] = {
            "id": ruleset_id,
            "name": name,
            "target": "branch",
            "enforcement": enforcement,
            "bypass_actors": list(bypass_actors or ()),
            "conditions": {"ref_name": {"include": list(include), "exclude": list(exclude)}},
            "rules": list(rules),
            "created_at": now,
            "updated_at": now,
        }
        return ruleset_id


def protect_branch(
    world: World,
    repo: str,
    branch: str | None = None,
    *,
    checks: list[tuple[str, int | None]] | None = None,
    dismiss_stale_reviews: bool = False,
    enforce_admins: bool = True,
) -> None:
    """Classic branch protection on `branch` (default: the default branch)."""
    with world.lock:
        record = world.repo(repo)
        governance(world).protections.setdefault(record.full_name.lower(), {})[
            branch or record.default_branch
        ] = BranchProtection(
            checks=list(checks or ()),
            enforce_admins=enforce_admins,
            dismiss_stale_reviews=dismiss_stale_reviews,
        )


def add_environment(
    world: World, repo: str, name: str, *, protection_apps: tuple[int, ...] = ()
) -> Environment:
    """A deployment environment, with custom protection rules of the given app ids."""
    with world.lock:
        record = world.repo(repo)
        environment = Environment(
            id=world.next_id(),
            name=name,
            created_at=world.now(),
            rules=[ProtectionRule(id=world.next_id(), app_id=app_id) for app_id in protection_apps],
        )
        governance(world).environments.setdefault(record.full_name.lower(), {})[name.lower()] = (
            environment
        )
        return environment


# -- queries for the routes ----------------------------------------------------------
def ref_matches(conditions: dict[str, Any], ref: str, default_branch: str) -> bool:
    """GitHub's `ref_name` condition: include/exclude globs, `~DEFAULT_BRANCH`, `~ALL`."""
    ref_name = conditions.get("ref_name") or {}

    def hit(pattern: str) -> bool:
        if pattern == "~ALL":
            return True
        if pattern == "~DEFAULT_BRANCH":
            return ref == f"refs/heads/{default_branch}"
        return fnmatch.fnmatchcase(ref, pattern)

    included = any(hit(p) for p in ref_name.get("include") or ())
    return included and not any(hit(p) for p in ref_name.get("exclude") or ())


def new_code() -> str:
    return secrets.token_hex(10)
