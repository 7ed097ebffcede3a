"""Rulesets, branch protection and deployment environments: what `foureyes doctor` reads.

`GET /repos/{o}/{r}/rules/branches/{branch}` lists the active rules that apply to a
branch; `GET /repos/{o}/{r}/rulesets[/{id}]` the rulesets (bypass actors only for a
caller with `administration` read, as GitHub hides them from others);
`GET /repos/{o}/{r}/branches/{branch}/protection` classic protection (`administration`);
`GET /repos/{o}/{r}/environments` and `.../environments/{env}/deployment_protection_rules`
(`actions` read) the environments and their enabled custom protection rules.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from app.simulator import examples, render
from app.simulator.governance import Environment, governance, ref_matches
from app.simulator.http import Call, HttpError, Reply, Routes, paginate
from app.simulator.model import Repo
from app.simulator.world import permits

routes = Routes()


def _rulesets(call: Call, repo: Repo) -> list[dict[str, Any]]:
    found = governance(call.world).rulesets.get(repo.full_name.lower(), {})
    return [found[key] for key in sorted(found)]


def _links(call: Call, repo: Repo, ruleset_id: int) -> dict[str, Any]:
    return {
        "self": {"href": f"{call.base_url}/repos/{repo.full_name}/rulesets/{ruleset_id}"},
        "html": {"href": f"{call.base_url}/{repo.full_name}/rules/{ruleset_id}"},
    }


def _can_read_bypass(call: Call) -> bool:
    token = call.auth.token
    return token is not None and permits(token.permissions, {"administration": "read"})


def _can_bypass(call: Call, ruleset: dict[str, Any]) -> str:
    """`current_user_can_bypass` for the calling app."""
    for actor in ruleset["bypass_actors"]:
        if actor["actor_type"] == "Integration" and actor["actor_id"] == call.auth.app_id:
            return "always" if actor["bypass_mode"] == "always" else "pull_requests_only"
    return "never"


def _ruleset_body(call: Call, repo: Repo, ruleset: dict[str, Any], full: bool) -> dict[str, Any]:
    t = examples.rest("repository-ruleset")
    t.update(id=ruleset["id"], name=ruleset["name"], target=ruleset["target"])
    t.update(source_type="Repository", source=repo.full_name, enforcement=ruleset["enforcement"])
    t["node_id"] = render.node_id("RRS", ruleset["id"])
    t["_links"] = _links(call, repo, ruleset["id"])
    t.update(
        created_at=render.iso(ruleset["created_at"]), updated_at=render.iso(ruleset["updated_at"])
    )
    t["current_user_can_bypass"] = _can_bypass(call, ruleset)
    if not full:
        for key in ("bypass_actors", "conditions", "rules"):
            t.pop(key, None)
        return t
    t["conditions"] = ruleset["conditions"]
    t["rules"] = ruleset["rules"]
    if _can_read_bypass(call):
        t["bypass_actors"] = ruleset["bypass_actors"]
    else:
        t.pop("bypass_actors", None)
    return t


@routes.get("/repos/{owner}/{repo}/rules/branches/{branch+}", permission="metadata")
def branch_rules(call: Call) -> Reply:
    repo = call.require_repo()
    ref = f"refs/heads/{call.params['branch']}"
    items = []
    for ruleset in _rulesets(call, repo):
        if ruleset["enforcement"] != "active":
            continue
        if not ref_matches(ruleset["conditions"], ref, repo.default_branch):
            continue
        for rule in ruleset["rules"]:
            item = examples.rest("repository-rule-items")
            item.update(type=rule["type"], ruleset_id=ruleset["id"])
            item.update(ruleset_source_type="Repository", ruleset_source=repo.full_name)
            if "parameters" in rule:
                item["parameters"] = rule["parameters"]
            else:
                item.pop("parameters", None)
            items.append(item)
    return paginate(call, items)


@routes.get("/repos/{owner}/{repo}/rulesets", permission="metadata")
def list_rulesets(call: Call) -> Reply:
    repo = call.require_repo()
    reply = paginate(call, _rulesets(call, repo))
    reply.body = [_ruleset_body(call, repo, ruleset, full=False) for ruleset in reply.body]
    return reply


@routes.get("/repos/{owner}/{repo}/rulesets/{ruleset_id}", permission="metadata")
def get_ruleset(call: Call) -> Reply:
    repo = call.require_repo()
    found = governance(call.world).rulesets.get(repo.full_name.lower(), {})
    ruleset = found.get(call.number("ruleset_id"))
    if ruleset is None:
        raise HttpError(404, "Not Found")
    return Reply(200, _ruleset_body(call, repo, ruleset, full=True))


@routes.get("/repos/{owner}/{repo}/branches/{branch+}/protection", permission="administration")
def branch_protection(call: Call) -> Reply:
    repo = call.require_repo()
    branch = call.params["branch"]
    if branch not in repo.branches:
        raise HttpError(404, "Branch not found")
    protection = governance(call.world).protections.get(repo.full_name.lower(), {}).get(branch)
    if protection is None:
        raise HttpError(404, "Branch not protected")
    url = f"{call.base_url}/repos/{repo.full_name}/branches/{quote(branch, safe='')}/protection"
    t = render.rebase(call.world, examples.rest("branch-protection"))
    t["url"] = url
    t["required_status_checks"] = {
        "url": f"{url}/required_status_checks",
        "strict": protection.strict,
        "contexts": [context for context, _ in protection.checks],
        "checks": [{"context": context, "app_id": app_id} for context, app_id in protection.checks],
        "contexts_url": f"{url}/required_status_checks/contexts",
    }
    t["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": protection.enforce_admins}
    t["required_pull_request_reviews"] = {
        "url": f"{url}/required_pull_request_reviews",
        "dismiss_stale_reviews": protection.dismiss_stale_reviews,
        "require_code_owner_reviews": False,
        "required_approving_review_count": protection.required_approving_review_count,
        "require_last_push_approval": False,
    }
    t.pop("restrictions", None)
    for key in ("allow_deletions", "allow_force_pushes", "lock_branch", "allow_fork_syncing"):
        t[key] = {"enabled": False}
    for key in ("required_conversation_resolution", "required_linear_history"):
        t[key] = {"enabled": False}
    return Reply(200, t)


def _environments(call: Call, repo: Repo) -> list[Environment]:
    found = governance(call.world).environments.get(repo.full_name.lower(), {})
    return sorted(found.values(), key=lambda environment: environment.name.lower())


def _environment_body(call: Call, repo: Repo, environment: Environment) -> dict[str, Any]:
    t = examples.rest("environment")
    name = quote(environment.name, safe="")
    t.update(id=environment.id, node_id=render.node_id("EN", environment.id), name=environment.name)
    t["url"] = f"{call.base_url}/repos/{repo.full_name}/environments/{name}"
    t["html_url"] = (
        f"{call.base_url}/{repo.full_name}/deployments/activity_log?environments_filter={name}"
    )
    t.update(
        created_at=render.iso(environment.created_at),
        updated_at=render.iso(environment.created_at),
    )
    # Custom app rules are listed by their own endpoint, not among these.
    t["protection_rules"] = []
    t["deployment_branch_policy"] = None
    return t


@routes.get("/repos/{owner}/{repo}/environments", permission="actions")
def list_environments(call: Call) -> Reply:
    repo = call.require_repo()
    environments = _environments(call, repo)
    return paginate(
        call,
        environments,
        lambda chunk: {
            "total_count": len(environments),
            "environments": [_environment_body(call, repo, e) for e in chunk],
        },
    )


@routes.get(
    "/repos/{owner}/{repo}/environments/{environment+}/deployment_protection_rules",
    permission="actions",
)
def deployment_protection_rules(call: Call) -> Reply:
    repo = call.require_repo()
    found = governance(call.world).environments.get(repo.full_name.lower(), {})
    environment = found.get(call.params["environment"].lower())
    if environment is None:
        raise HttpError(404, "Not Found")
    rules = []
    # GitHub lists only the enabled rules.
    for rule in environment.rules:
        app = call.world.app(rule.app_id)
        if not rule.enabled or app is None:
            continue
        t = examples.rest("deployment-protection-rule")
        t.update(id=rule.id, node_id=render.node_id("DPR", rule.id), enabled=True)
        t["app"] = {
            "id": app.id,
            "node_id": render.node_id("A", app.id),
            "slug": app.slug,
            "integration_url": f"{call.base_url}/apps/{app.slug}",
        }
        rules.append(t)
    return Reply(200, {"total_count": len(rules), "custom_deployment_protection_rules": rules})
