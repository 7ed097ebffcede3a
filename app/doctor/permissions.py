"""Does the app hold what `app.yml` asks for, and has every installation accepted it?"""

from __future__ import annotations

from app.doctor.facts import AppFacts
from app.doctor.findings import Finding
from app.manifest import permission_covers

PERMISSIONS_FIX = (
    "GitHub → Settings → Developer settings → GitHub Apps → {slug} → Permissions & events: "
    "{what}; then accept the new permissions on each installation"
)


def check_app(
    facts: AppFacts, permissions: dict[str, str], events: tuple[str, ...]
) -> tuple[Finding, ...]:
    """The app holds the permissions and events `app.yml` asks for, on every installation."""
    findings = []
    for name, level in sorted(permissions.items()):
        if not permission_covers(facts.permissions.get(name), level):
            granted = facts.permissions.get(name) or "none"
            findings.append(
                Finding(
                    "permissions",
                    "error",
                    f"the app has '{name}: {granted}', foureyes needs '{name}: {level}'",
                    PERMISSIONS_FIX.format(slug=facts.slug, what=f"set {name} to {level}"),
                )
            )
    missing = sorted(set(events) - set(facts.events))
    if missing:
        findings.append(
            Finding(
                "events",
                "error",
                f"the app is not subscribed to {', '.join(missing)}",
                PERMISSIONS_FIX.format(slug=facts.slug, what=f"subscribe to {', '.join(missing)}"),
            )
        )
    if not findings:
        findings.append(
            Finding("permissions", "ok", "the app holds every permission and event app.yml lists")
        )
    return tuple(findings)


def check_installation(
    facts: AppFacts, installation_id: int, permissions: dict[str, str]
) -> tuple[Finding, ...]:
    """An installation that has not accepted the app's permissions, or is suspended."""
    account, granted, suspended = facts.installations[installation_id]
    if suspended:
        return (
            Finding(
                "installation",
                "error",
                f"the installation on {account} is suspended: no pull request there is gated",
                f"{account}'s Settings → GitHub Apps → {facts.slug} → Unsuspend",
            ),
        )
    lacking = sorted(
        name
        for name, level in permissions.items()
        if permission_covers(facts.permissions.get(name), level)
        and not permission_covers(granted.get(name), level)
    )
    if not lacking:
        return ()
    return (
        Finding(
            "installation",
            "error",
            f"the installation on {account} has not accepted {', '.join(lacking)}",
            f"{account}'s Settings → GitHub Apps → {facts.slug} → review and accept the "
            "requested permissions",
        ),
    )
