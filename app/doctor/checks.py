"""Is the gate really enforced? Pure judgments over `RepoFacts` and `AppFacts`.

A check that GitHub does not require is advice, not a gate; a required check that is
not bound to this app's id can be forged by anyone who can push (a commit status or a
check run of the same name from any source satisfies it); a bypass for an agent lets
the agent merge around it. Each finding says what is wrong and where to fix it.
"""

from __future__ import annotations

from app.doctor.facts import Json, RepoFacts
from app.doctor.findings import Finding
from app.policy.schema import match_deployment

RULESET_FIX = (
    "Settings → Rules → Rulesets → {where}: enable 'Require status checks to pass', add the "
    "check '{check}' and select 'foureyes' (this app, id {app_id}) as its source"
)
PROTECTION_FIX = (
    "Settings → Branches → Branch protection rules → {branch}: under 'Require status checks "
    "to pass', choose 'foureyes' (this app, id {app_id}) as the source of '{check}' "
    "(or require it in a ruleset instead)"
)
BYPASS_FIX = "Settings → Rules → Rulesets → '{ruleset}' → Bypass list: remove {actor}"
ENVIRONMENT_FIX = (
    "Settings → Environments → {environment} → Deployment protection rules: enable 'foureyes'"
)
# Repository role ids GitHub uses for bypass actors; `write` is everyone who can push.
WRITE_ROLE_ID = 4


def _requirements(facts: RepoFacts, check: str) -> list[tuple[str, int | None, int | None]]:
    """Every place the check is required: (where, bound app id or None, ruleset id)."""
    found: list[tuple[str, int | None, int | None]] = []
    for rule in facts.branch_rules:
        if rule.get("type") != "required_status_checks":
            continue
        ruleset_id = rule.get("ruleset_id")
        ruleset = facts.rulesets.get(ruleset_id) if ruleset_id is not None else None
        name = (ruleset or {}).get("name") or f"ruleset {ruleset_id}"
        for item in (rule.get("parameters") or {}).get("required_status_checks") or ():
            if item.get("context") == check:
                found.append((f"ruleset '{name}'", item.get("integration_id"), ruleset_id))
    required = (facts.protection or {}).get("required_status_checks") or {}
    for item in required.get("checks") or ():
        if item.get("context") == check:
            app_id = item.get("app_id")
            # -1 is GitHub's explicit "any source".
            found.append(("branch protection", app_id if app_id != -1 else None, None))
    if not required.get("checks") and check in (required.get("contexts") or ()):
        found.append(("branch protection", None, None))
    return found


def check_required(facts: RepoFacts, app_id: int, check: str) -> list[Finding]:
    branch = facts.default_branch
    requirements = _requirements(facts, check)
    bound = [where for where, binding, _ in requirements if binding == app_id]
    if bound:
        return [
            Finding(
                "required-check",
                "ok",
                f"'{check}' is required on {branch} by {', '.join(bound)}, "
                f"bound to this app (id {app_id})",
            )
        ]
    findings = []
    for where, binding, _ in requirements:
        fix = (
            PROTECTION_FIX.format(branch=branch, app_id=app_id, check=check)
            if where == "branch protection"
            else RULESET_FIX.format(where=where, check=check, app_id=app_id)
        )
        if binding is None:
            message = (
                f"'{check}' is required on {branch} by {where} from any source: anyone who "
                f"can push, an agent included, can post a passing '{check}' status"
            )
        else:
            message = (
                f"'{check}' is required on {branch} by {where} from another app (id "
                f"{binding}), not this one (id {app_id}): foureyes' verdict is not what counts"
            )
        findings.append(Finding("check-binding", "error", message, fix))
    if not requirements:
        findings.append(
            Finding(
                "required-check",
                "error",
                f"nothing requires '{check}' on {branch}: agents' pull requests can be merged "
                "without a human's approval",
                RULESET_FIX.format(
                    where="New branch ruleset (target: the default branch, enforcement: Active)",
                    check=check,
                    app_id=app_id,
                ),
            )
        )
    if not facts.protection_readable:
        findings.append(
            Finding(
                "required-check",
                "warning",
                f"branch protection of {branch} could not be read",
                "give the app the 'Administration: read' permission (app.yml asks for it)",
            )
        )
    return findings


def _actor_finding(facts: RepoFacts, ruleset: str, actor: Json, app_id: int) -> Finding:
    kind, actor_id = actor.get("actor_type"), actor.get("actor_id")
    mode = actor.get("bypass_mode") or "always"
    if kind == "Integration" and actor_id == app_id:
        return Finding(
            "bypass",
            "error",
            f"this app may bypass ruleset '{ruleset}' ({mode}): agents' tokens are this app's "
            "tokens, so agents may bypass the gate",
            BYPASS_FIX.format(ruleset=ruleset, actor="'foureyes'"),
        )
    if kind == "Integration" and actor_id in facts.agent_apps:
        login = facts.agent_apps[actor_id]
        return Finding(
            "bypass",
            "error",
            f"the agent {login} (app id {actor_id}) may bypass ruleset '{ruleset}' ({mode})",
            BYPASS_FIX.format(ruleset=ruleset, actor=f"the app of {login}"),
        )
    if kind == "Integration":
        return Finding(
            "bypass",
            "warning",
            f"an app (id {actor_id}) may bypass ruleset '{ruleset}' ({mode}); if an agent "
            "acts through it, it can merge without a human",
            BYPASS_FIX.format(ruleset=ruleset, actor=f"the app with id {actor_id}")
            + " unless no agent acts through it",
        )
    if kind == "DeployKey":
        return Finding(
            "bypass",
            "error",
            f"deploy keys may bypass ruleset '{ruleset}' ({mode}): a deploy key is a machine "
            "credential, not a human",
            BYPASS_FIX.format(ruleset=ruleset, actor="'Deploy keys'"),
        )
    if kind == "RepositoryRole" and actor_id == WRITE_ROLE_ID:
        return Finding(
            "bypass",
            "warning",
            f"everyone with write access may bypass ruleset '{ruleset}' ({mode})",
            BYPASS_FIX.format(ruleset=ruleset, actor="the 'Write' role"),
        )
    return Finding(
        "bypass",
        "info",
        f"{kind}{f' {actor_id}' if actor_id else ''} may bypass ruleset '{ruleset}' ({mode}): "
        "people, not agents; each bypass shows in the ruleset's insights",
    )


def check_bypass(facts: RepoFacts, app_id: int, check: str) -> list[Finding]:
    findings = []
    ruleset_ids = sorted({rid for _, _, rid in _requirements(facts, check) if rid is not None})
    for ruleset_id in ruleset_ids:
        ruleset = facts.rulesets.get(ruleset_id)
        if ruleset is None:
            findings.append(
                Finding(
                    "bypass",
                    "warning",
                    f"ruleset {ruleset_id} could not be read, so who may bypass it is unknown",
                    "check its bypass list in the organisation's Settings → Rules → Rulesets",
                )
            )
            continue
        name = ruleset.get("name") or str(ruleset_id)
        if "bypass_actors" not in ruleset:
            findings.append(
                Finding(
                    "bypass",
                    "warning",
                    f"who may bypass ruleset '{name}' is not visible to the app",
                    "give the app the 'Administration: read' permission (app.yml asks for it)",
                )
            )
            continue
        findings.extend(
            _actor_finding(facts, name, actor, app_id) for actor in ruleset["bypass_actors"] or ()
        )
    admins = ((facts.protection or {}).get("enforce_admins") or {}).get("enabled")
    if facts.protection is not None and admins is False:
        findings.append(
            Finding(
                "bypass",
                "info",
                f"administrators may merge into {facts.default_branch} without the branch "
                "protection's checks ('Do not allow bypassing the above settings' is off)",
            )
        )
    return findings


def check_stale_approvals(facts: RepoFacts) -> list[Finding]:
    """Always OK: foureyes counts an approval only for the head commit it reviewed."""
    github_dismisses = [
        f"ruleset {rule.get('ruleset_id')}"
        for rule in facts.branch_rules
        if rule.get("type") == "pull_request"
        and (rule.get("parameters") or {}).get("dismiss_stale_reviews_on_push")
    ]
    reviews = (facts.protection or {}).get("required_pull_request_reviews") or {}
    if reviews.get("dismiss_stale_reviews"):
        github_dismisses.append("branch protection")
    also = f"; GitHub also dismisses stale reviews ({', '.join(github_dismisses)})"
    return [
        Finding(
            "stale-approvals",
            "ok",
            "a push invalidates approvals: foureyes counts an approval only for the head "
            "commit it reviewed" + (also if github_dismisses else ""),
        )
    ]


def _is_glob(name: str) -> bool:
    return any(char in name for char in "*?")


def check_environments(facts: RepoFacts, app_id: int) -> list[Finding]:
    policy = facts.policy
    if policy is None:
        return []
    if facts.environments is None:
        return [
            Finding(
                "environment",
                "warning",
                "the repository's environments could not be listed",
                "give the app the 'Actions: read' permission (app.yml asks for 'actions')",
            )
        ]
    existing = {name.lower(): name for name in facts.environments}
    named = [key for key in policy.deployments if not _is_glob(key)]
    findings = []
    for name in named:
        if name.lower() not in existing and match_deployment(policy, name) != "allow":
            findings.append(
                Finding(
                    "environment",
                    "warning",
                    f"the policy names environment '{name}', which does not exist: GitHub "
                    "creates it on first use without any protection rule",
                    f"Settings → Environments → New environment '{name}', then "
                    + ENVIRONMENT_FIX.format(environment=name),
                )
            )
    for name in sorted(existing.values(), key=str.lower):
        if match_deployment(policy, name) == "allow":
            continue
        rules = facts.environment_rules.get(name, ())
        if any((r.get("app") or {}).get("id") == app_id and r.get("enabled") for r in rules):
            findings.append(
                Finding("environment", "ok", f"environment '{name}' is gated by foureyes")
            )
            continue
        findings.append(
            Finding(
                "environment",
                "error",
                f"environment '{name}' does not use foureyes' deployment protection rule: "
                "agents' deployments to it are not gated",
                ENVIRONMENT_FIX.format(environment=name),
            )
        )
    return findings


def check_policy(facts: RepoFacts) -> list[Finding]:
    if facts.policy_error is None:
        if facts.policy is not None and facts.policy.mode == "observe":
            return [
                Finding(
                    "observe",
                    "warning",
                    f"still observing: the policy {facts.policy_source} has mode observe, so"
                    " foureyes explains every decision and enforces none",
                    "set `mode: enforce` in that policy; to enforce this repository alone while"
                    " the organisation observes, give it its own .github/foureyes.yml",
                )
            ]
        return []
    return [
        Finding(
            "policy",
            "error",
            f"the policy {facts.policy_source} is invalid, so every agent pull request fails: "
            f"{facts.policy_error}",
            "fix .github/foureyes.yml on the default branch (`foureyes policy check FILE`)",
        )
    ]


def check_repository(facts: RepoFacts, app_id: int, check: str) -> tuple[Finding, ...]:
    """Every finding about one repository."""
    if facts.archived:
        return (Finding("archived", "info", "archived: nothing can be merged or deployed"),)
    return (
        *check_required(facts, app_id, check),
        *check_bypass(facts, app_id, check),
        *check_stale_approvals(facts),
        *check_policy(facts),
        *check_environments(facts, app_id),
    )
