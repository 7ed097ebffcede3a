"""Reconciliation: find pull requests whose gate check is missing, stale or outdated.

Webhooks get lost (a delivery that failed for longer than redelivery covers, a task
that gave up), so a scheduled job compares what GitHub shows with what the gate would
write and queues an evaluation (`workers.gate.request_evaluation`: coalesced and
serialised) for every open pull request whose check run on the head commit is

- `missing`: none by this app (or not completed),
- `policy`: written under another policy source (the check run's `external_id`, see
  `app/github/publish.py`), or the policy's content changed since the last look,
- `stale`: completed no later than the pull request's last update (a review, a push,
  a label: GitHub bumps `updated_at` for each; timestamps have one-second precision,
  so a tie counts as stale and costs one extra evaluation at most).

Every open pull request is looked at, not only agent-involved ones: the contract gives
every pull request the check, and a missed label or push can make one agent-involved.

Few API calls. Per repository and pass: one conditional request for the open pull
requests, sorted by update so that any change alters the first page (a 304 costs no
rate limit). A repository without open pull requests costs nothing more. The policy is
read (conditional requests again) when the list changed, else once per
`POLICY_RECHECK`, which catches a policy change whose push event was lost. Check runs
are read only for repositories whose list or policy changed. A repository is marked
clean only when nothing needed fixing, so the pass after a fix checks that it landed.

Fixes are reported with one `reconcile.fixed` log line each and the
`foureyes_reconcile_fixes_total{reason}` metric; there is no audit event type for
this, and the re-evaluation itself audits `gate.evaluated` and `check.published`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter as Tally
from typing import Any

import structlog
from celery import shared_task
from githubkit import GitHub
from prometheus_client import Counter

from app.errors import GoneError
from app.github.client import github_errors, parse_time
from app.github.gather import LoadedPolicy, load_repository_policy, pages
from app.github.publish import external_id
from app.services import Services, services
from app.state import held_lock
from workers.gate import request_evaluation

log = structlog.get_logger()

LOCK_TTL = 900.0
MEMORY_TTL = 7 * 24 * 3600.0
POLICY_RECHECK = 3600.0
MAX_OPEN_PULLS = 1000
MAX_REPOSITORIES = 10_000

RECONCILED = Counter(
    "foureyes_reconcile_fixes_total",
    "Pull requests re-evaluated by reconciliation, by what was wrong with their check",
    ["reason"],
)


def policy_digest(loaded: LoadedPolicy) -> str:
    """What the policy says, not only where it lives: a changed file changes the digest."""
    body = loaded.policy.model_dump_json() if loaded.policy is not None else f"!{loaded.error}"
    return hashlib.sha256(f"{loaded.source}\n{body}".encode()).hexdigest()


def list_open_pulls(gh: GitHub, repository: str) -> list[dict[str, Any]]:
    owner, name = repository.split("/", 1)
    return list(
        pages(
            lambda page: gh.rest.pulls.list(
                owner, name, state="open", sort="updated", direction="desc", per_page=100, page=page
            ),
            MAX_OPEN_PULLS,
        )
    )


def changed_open_pulls(
    gh: GitHub, repository: str, etag: str | None
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The open pull requests if they changed since `etag` (else None), and the new ETag."""
    owner, name = repository.split("/", 1)
    with github_errors():
        response = gh.request(
            "GET",
            f"/repos/{owner}/{name}/pulls",
            params={"state": "open", "sort": "updated", "direction": "desc", "per_page": 100},
            headers={"If-None-Match": etag} if etag else {},
        )
    if response.status_code == 304:
        return None, etag
    pulls = response.json()
    if 'rel="next"' in response.headers.get("link", ""):
        pulls = list_open_pulls(gh, repository)
    return pulls, response.headers.get("etag")


def check_problem(
    gh: GitHub, deps: Services, repository: str, pull: dict[str, Any], expected_id: str
) -> str | None:
    """What is wrong with the gate's check run on the pull request's head, if anything."""
    owner, name = repository.split("/", 1)
    app_id = int(deps.settings.app_id or 0)
    with github_errors():
        listing = gh.rest.checks.list_for_ref(
            owner,
            name,
            pull["head"]["sha"],
            check_name=deps.settings.check_name,
            app_id=app_id,
            filter_="latest",
        ).json()
    runs = [
        run
        for run in listing.get("check_runs", [])
        if (run.get("app") or {}).get("id") == app_id
        and run.get("name") == deps.settings.check_name
    ]
    if not runs or runs[0].get("status") != "completed" or not runs[0].get("completed_at"):
        return "missing"
    run = runs[0]
    if run.get("external_id") != expected_id:
        return "policy"
    if parse_time(run["completed_at"]) <= parse_time(pull["updated_at"]):
        return "stale"
    return None


def reconcile_repository(
    deps: Services, gh: GitHub, installation_id: int, repository: str, default_branch: str
) -> Tally[str]:
    """Queue evaluations for the repository's open pull requests that need one."""
    fixed: Tally[str] = Tally()
    key = f"reconcile:repo:{repository}"
    memory: dict[str, Any] = json.loads(deps.state.get(key) or "{}")
    pulls, etag = changed_open_pulls(gh, repository, memory.get("etag"))
    if pulls is not None:
        memory["open"] = len(pulls)
    if not memory.get("open"):
        memory["etag"] = etag
        deps.state.set(key, json.dumps(memory), MEMORY_TTL)
        return fixed
    policy_due = time.time() - memory.get("policy_checked", 0.0) >= POLICY_RECHECK
    if pulls is None and not policy_due:
        return fixed
    loaded = load_repository_policy(gh, deps.state, repository, default_branch)
    digest = policy_digest(loaded)
    policy_changed = memory.get("policy") not in (None, digest)
    memory.update(policy=digest, policy_checked=time.time())
    if pulls is None and not policy_changed:
        deps.state.set(key, json.dumps(memory), MEMORY_TTL)
        return fixed
    expected_id = external_id(loaded.source)
    for pull in pulls if pulls is not None else list_open_pulls(gh, repository):
        problem = (
            "policy" if policy_changed else check_problem(gh, deps, repository, pull, expected_id)
        )
        if problem is None:
            continue
        request_evaluation(deps, installation_id, repository, pull["number"])
        fixed[problem] += 1
        RECONCILED.labels(problem).inc()
        log.info(
            "reconcile.fixed",
            repository=repository,
            pr=pull["number"],
            head_sha=pull["head"]["sha"],
            reason=problem,
            outcome="re-evaluation queued",
        )
    # Remember the list only when it is clean: after a fix, the next pass looks again.
    memory["etag"] = etag if not fixed else None
    deps.state.set(key, json.dumps(memory), MEMORY_TTL)
    return fixed


def reconcile_installation_now(deps: Services, installation_id: int) -> Tally[str]:
    """One pass over every repository the installation can see."""
    gh = deps.github.for_installation(installation_id)
    fixed: Tally[str] = Tally()
    with gh:
        repositories = list(
            pages(
                lambda page: gh.rest.apps.list_repos_accessible_to_installation(
                    per_page=100, page=page
                ),
                MAX_REPOSITORIES,
                key="repositories",
            )
        )
        for repo in repositories:
            if repo.get("archived"):
                continue
            try:
                fixed += reconcile_repository(
                    deps, gh, installation_id, repo["full_name"], repo["default_branch"]
                )
            except GoneError as exc:
                # Deleted or hidden since the listing: nothing left to gate there.
                log.warning(
                    "reconcile.repository_gone", repository=repo["full_name"], reason=str(exc)
                )
    return fixed


@shared_task(name="workers.reconcile.reconcile_installation")
def reconcile_installation(installation_id: int) -> int:
    """Reconcile one installation (one run at a time for it); how many it fixed."""
    deps = services()
    structlog.contextvars.bind_contextvars(installation=installation_id)
    with held_lock(deps.state, f"reconcile:{installation_id}", LOCK_TTL) as held:
        if not held:
            log.info("reconcile.skipped", reason="another run holds the lock")
            return 0
        fixed = reconcile_installation_now(deps, installation_id)
    log.info("reconcile.done", fixed=sum(fixed.values()), reasons=dict(fixed))
    return sum(fixed.values())


@shared_task(name="workers.reconcile.reconcile_all")
def reconcile_all() -> int:
    """The scheduled job (Celery beat): queue one reconciliation per installation."""
    deps = services()
    if deps.settings.setup_mode:
        return 0
    with held_lock(deps.state, "reconcile", LOCK_TTL) as held:
        if not held:
            log.info("reconcile.skipped", reason="another run holds the lock")
            return 0
        app_client = deps.github.as_app()  # githubkit's namespaces hold only a weak reference
        installations = [
            installation["id"]
            for installation in pages(
                lambda page: app_client.rest.apps.list_installations(per_page=100, page=page),
                MAX_REPOSITORIES,
            )
            if not installation.get("suspended_at")
        ]
        for installation_id in installations:
            reconcile_installation.apply_async(args=(installation_id,))
    log.info("reconcile.queued", installations=len(installations))
    return len(installations)
