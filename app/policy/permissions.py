"""GitHub App permission names, and the floor: what no agent token ever carries.

Pure data and one function, shared by the policy schema (a `tokens` rule that asks for a
floored permission is an error) and the broker (a request for one is denied, whatever a
rule or a human's escalation says). Invariant 6: agents never hold a permission the gate
or its evidence relies on.
"""

from __future__ import annotations

# Never granted to an agent at any level. `checks`, `statuses` and `deployments` are the
# gate's verdicts and the deployment gate's answer; `environments` and `administration`
# hold the protection rules and rulesets; `repository_custom_properties` (and the org's)
# decide which rulesets apply; `issues` foureyes opens its approval issues with (an agent
# with `issues: write` IS the app on GitHub and could rewrite them), so only its write
# level is floored. `members` and `secrets` need no reason.
FLOOR_ANY = frozenset(
    {
        "administration",
        "checks",
        "custom_properties_for_organizations",
        "dependabot_secrets",
        "deployments",
        "enterprise_custom_properties_for_organizations",
        "environments",
        "members",
        "repository_custom_properties",
        "secrets",
        "statuses",
    }
)
# Never granted at `write`: re-running the workflow runs the guard cancelled, and editing
# (closing, retitling) the escalation, deployment-approval and flag issues foureyes opened.
FLOOR_WRITE = frozenset({"actions", "issues"})
FLOOR_PREFIX = "organization_"

# GitHub App permission names, as in GitHub's `app-permissions` schema (REST OpenAPI).
KNOWN_PERMISSIONS = frozenset(
    {
        "actions", "administration", "artifact_metadata", "attestations", "checks",
        "code_quality", "codespaces", "contents", "dependabot_secrets", "deployments",
        "discussions", "environments", "issues", "members", "merge_queues", "metadata",
        "packages", "pages", "pull_requests", "repository_custom_properties",
        "repository_hooks", "repository_projects", "secret_scanning_alerts", "secrets",
        "security_events", "single_file", "statuses", "vulnerability_alerts", "workflows",
        "custom_properties_for_organizations",
        "enterprise_custom_properties_for_organizations",
        "organization_administration", "organization_announcement_banners",
        "organization_copilot_agent_settings", "organization_copilot_seat_management",
        "organization_custom_org_roles", "organization_custom_properties",
        "organization_custom_roles", "organization_events", "organization_hooks",
        "organization_packages", "organization_personal_access_token_requests",
        "organization_personal_access_tokens", "organization_plan", "organization_projects",
        "organization_secrets", "organization_self_hosted_runners",
        "organization_user_blocking",
    }
)  # fmt: skip


def floor_violation(permissions: dict[str, str]) -> str | None:
    """The first asked permission on the floor (`administration`, `actions: write`), if any."""
    for name, level in sorted(permissions.items()):
        if name in FLOOR_ANY or name.startswith(FLOOR_PREFIX):
            return name
        if name in FLOOR_WRITE and level == "write":
            return f"{name}: write"
    return None
