"""Read what the doctor judges: the app, its installations, and each repository's settings.

Every read is one REST call (paginated where GitHub pages). A 403 means the app lacks a
permission to see something: the facts record it as unreadable, and the checks say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.doctor.facts import AppFacts, Json, RepoFacts
from app.errors import GoneError, PolicyError
from app.github.client import GitHubApp, github_errors
from app.github.gather import PER_PAGE, load_repository_policy, pages
from app.policy.schema import Policy
from app.state import SharedState

MAX_REPOSITORIES = 10_000
MAX_RULES = 1_000
MAX_ENVIRONMENTS = 1_000
APP_ID_TTL = 86400.0


def _read(call: Callable[[], Any]) -> tuple[int, Any]:
    """(200, body), or (404 | 403, None) for what is absent or hidden from the app."""
    try:
        with github_errors():
            response = call()
    except GoneError:
        return 404, None
    except RequestFailed as exc:
        if exc.response.status_code == 403:
            return 403, None
        raise
    return 200, response.json()


def app_facts(github: GitHubApp) -> AppFacts:
    """The registered app (`GET /app`) and its installations (`GET /app/installations`)."""
    client = github.as_app()  # githubkit's namespaces hold only a weak reference
    with github_errors():
        app = client.rest.apps.get_authenticated().json()
    installations = {
        int(item["id"]): (
            (item.get("account") or {}).get("login") or str(item["id"]),
            dict(item.get("permissions") or {}),
            bool(item.get("suspended_at")),
        )
        for item in pages(
            lambda page: client.rest.apps.list_installations(per_page=PER_PAGE, page=page),
            MAX_REPOSITORIES,
        )
    }
    return AppFacts(
        app_id=int(app["id"]),
        slug=app.get("slug") or "foureyes",
        permissions=dict(app.get("permissions") or {}),
        events=tuple(app.get("events") or ()),
        installations=installations,
    )


def installation_repositories(gh: GitHub) -> Iterator[Json]:
    yield from pages(
        lambda page: gh.rest.apps.list_repos_accessible_to_installation(
            per_page=PER_PAGE, page=page
        ),
        MAX_REPOSITORIES,
        key="repositories",
    )


def _required_rulesets(rules: list[Json], check: str) -> set[int]:
    ids = set()
    for rule in rules:
        if rule.get("type") != "required_status_checks" or rule.get("ruleset_id") is None:
            continue
        checks = (rule.get("parameters") or {}).get("required_status_checks") or ()
        if any(item.get("context") == check for item in checks):
            ids.add(int(rule["ruleset_id"]))
    return ids


def agent_apps(
    gh: GitHub, state: SharedState, policy: Policy | None, candidates: set[int]
) -> dict[int, str]:
    """App ids of the policy's agent logins that are apps (`name[bot]`), among `candidates`."""
    if policy is None or not candidates:
        return {}
    found: dict[int, str] = {}
    for login in policy.agents.logins:
        if not login.lower().endswith("[bot]") or any(c in login for c in "*?"):
            continue
        slug = login[: -len("[bot]")].lower()
        key = f"doctor:app-id:{slug}"
        cached = state.get(key)
        if cached is None:
            status, body = _read(lambda slug=slug: gh.rest.apps.get_by_slug(slug))
            cached = str(body["id"]) if status == 200 and body else ""
            state.set(key, cached, APP_ID_TTL)
        if cached and int(cached) in candidates:
            found[int(cached)] = login
    return found


def describe_policy_error(error: PolicyError) -> str:
    """The first few errors with their key path and line, else the message."""
    items = [
        f"{path}: {message}" + (f" (line {line})" if line else "")
        for path, message, line in error.errors[:3]
    ]
    return "; ".join(items) or str(error)


def repo_facts(
    gh: GitHub,
    state: SharedState,
    installation_id: int,
    repository: Json,
    check: str,
    app_id: int,
) -> RepoFacts:
    """Everything the checks need about one repository, read as its installation."""
    full_name = repository["full_name"]
    owner, name = full_name.split("/", 1)
    branch = repository.get("default_branch") or "main"
    if repository.get("archived"):
        return RepoFacts(full_name, installation_id, branch, archived=True)
    loaded = load_repository_policy(gh, state, full_name, branch)
    rules = list(
        pages(
            lambda page: gh.rest.repos.get_branch_rules(
                owner, name, branch, per_page=PER_PAGE, page=page
            ),
            MAX_RULES,
        )
    )
    rulesets: dict[int, Json | None] = {}
    for ruleset_id in sorted(_required_rulesets(rules, check)):
        _, body = _read(lambda rid=ruleset_id: gh.rest.repos.get_repo_ruleset(owner, name, rid))
        rulesets[ruleset_id] = body
    status, protection = _read(lambda: gh.rest.repos.get_branch_protection(owner, name, branch))
    environments: tuple[str, ...] | None = None
    environment_rules: dict[str, tuple[Json, ...]] = {}
    try:
        environments = tuple(
            item["name"]
            for item in pages(
                lambda page: gh.rest.repos.get_all_environments(
                    owner, name, per_page=PER_PAGE, page=page
                ),
                MAX_ENVIRONMENTS,
                key="environments",
            )
        )
    except GoneError:
        environments = ()
    except RequestFailed as exc:
        if exc.response.status_code != 403:
            raise
    for environment in environments or ():
        _, body = _read(
            lambda env=environment: gh.rest.repos.get_all_deployment_protection_rules(
                environment_name=env, owner=owner, repo=name
            )
        )
        environment_rules[environment] = tuple(
            (body or {}).get("custom_deployment_protection_rules") or ()
        )
    integrations = {
        actor.get("actor_id")
        for ruleset in rulesets.values()
        for actor in (ruleset or {}).get("bypass_actors") or ()
        if actor.get("actor_type") == "Integration" and actor.get("actor_id") != app_id
    }
    return RepoFacts(
        repository=full_name,
        installation_id=installation_id,
        default_branch=branch,
        branch_rules=tuple(rules),
        rulesets=rulesets,
        protection=protection,
        protection_readable=status != 403,
        environments=environments,
        environment_rules=environment_rules,
        policy=loaded.policy,
        policy_source=loaded.source,
        policy_error=describe_policy_error(loaded.error) if loaded.error else None,
        agent_apps=agent_apps(gh, state, loaded.policy, {i for i in integrations if i}),
    )
