"""The merge gate's handlers and tasks: evaluate pull requests, publish the check run.

Evaluations of one pull request are serialised by a lock and coalesced by a pending
flag: a burst of events costs one or two evaluations, and each evaluation reads the
pull request afresh, so the newest head always wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from celery import current_task, shared_task

from app import acted, metrics
from app.audit.emit import emit
from app.contexts import (
    TooManyOpenPulls,
    commit_result,
    held_to_its_base,
    merge_group_verdict,
    open_pulls_at,
)
from app.deploy.gather import branch_requires_checks
from app.deploy.provenance import human_countersigned
from app.deploy.records import record_passed_head, withdraw_passed_head
from app.errors import GoneError, TransientError
from app.gate import (
    Decision,
    current_pull,
    decide,
    fetch_pull,
    judge_merge_group,
    offer_pull,
)
from app.github.answers import github_said
from app.github.client import github_errors
from app.github.gather import (
    ORG_POLICY_PATH,
    POLICY_PATH,
    LoadedPolicy,
    forget_policy_absence,
    pages,
)
from app.github.publish import publish_check
from app.policy.evaluate import error_result
from app.policy.result import Result, observed
from app.services import Services, services
from app.state import SharedStateUnavailable
from workers.base import task_lock
from workers.router import Router

log = structlog.get_logger()
router = Router()

PENDING_TTL = 600.0
LOCK_TTL = 120.0


def details_url(deps: Services, repository: str, number: int) -> str:
    return f"{deps.settings.foureyes_url}/prs/{repository}/{number}"


def request_evaluation(deps: Services, installation_id: int, repository: str, number: int) -> None:
    """Queue an evaluation unless one is already queued (it will read the newest state).

    The pending flag names the task that set it. When Redis goes away mid-command the flag
    may be written without the reply arriving, so the task fails before queueing; its rerun
    finds its own name there and queues the evaluation rather than taking it as coalesced.
    """
    pending = f"pending:{repository}#{number}"
    claim = _requester()
    if not deps.state.add_if_absent(pending, claim, PENDING_TTL):
        if deps.state.get(pending) != claim:
            log.info("gate.coalesced", pr=f"{repository}#{number}")
            return
        log.info("gate.requeued_own_claim", pr=f"{repository}#{number}")
    try:
        evaluate_pull_request.apply_async(args=(installation_id, repository, number))
    except Exception as exc:
        with contextlib.suppress(SharedStateUnavailable):
            deps.state.delete(pending, claim)
        raise TransientError(f"could not queue the evaluation: {exc}") from exc


def _requester() -> str:
    """The running task's id (a rerun keeps it), or a fresh one outside a task."""
    request = current_task.request if current_task else None
    return (request and request.id) or uuid.uuid4().hex


def _installation(payload: dict[str, Any]) -> int:
    return int(payload["installation"]["id"])


@router.on(
    "pull_request",
    "opened",
    "reopened",
    "synchronize",
    "ready_for_review",
    "labeled",
    "unlabeled",
    "edited",
    "closed",
    "assigned",
    "review_requested",
)
def on_pull_request(payload: dict[str, Any], deps: Services) -> None:
    remember_actor("pull_request", payload, deps)
    if payload["action"] == "edited" and not {"base", "body"} & set(payload.get("changes") or {}):
        return
    # Offered before the evaluation is requested, so the evaluation that runs next sees it.
    offer_pull(deps.state, payload["repository"]["full_name"], payload["pull_request"])
    request_evaluation(
        deps,
        _installation(payload),
        payload["repository"]["full_name"],
        payload["pull_request"]["number"],
    )


@router.on("pull_request_review", "submitted", "edited", "dismissed")
def on_review(payload: dict[str, Any], deps: Services) -> None:
    remember_actor("pull_request_review", payload, deps)
    request_evaluation(
        deps,
        _installation(payload),
        payload["repository"]["full_name"],
        payload["pull_request"]["number"],
    )


def remember_actor(event: str, payload: dict[str, Any], deps: Services) -> None:
    """Record who acted, as GitHub names them, before any evaluation reads it; the
    requesters a pull request's delivery shows in a transaction of their own."""
    now = datetime.now(UTC)
    with deps.sessions.begin() as session:
        acted.from_webhook(session, event, payload, now)
    if event == "pull_request":
        with deps.sessions.begin() as session:
            acted.requesters_from_webhook(session, payload, now)


def _ours(app: dict[str, Any] | None, deps: Services) -> bool:
    return bool(app) and app.get("id") == deps.settings.app_id


@router.on("check_run", "rerequested")
def on_check_run_rerequested(payload: dict[str, Any], deps: Services) -> None:
    run = payload["check_run"]
    if not _ours(run.get("app"), deps) or run.get("name") != deps.settings.check_name:
        return
    _evaluate_commit(payload, deps, run["head_sha"], run.get("pull_requests") or [])


@router.on("check_suite", "rerequested")
def on_check_suite_rerequested(payload: dict[str, Any], deps: Services) -> None:
    suite = payload["check_suite"]
    if not _ours(suite.get("app"), deps):
        return
    _evaluate_commit(payload, deps, suite["head_sha"], suite.get("pull_requests") or [])


def _evaluate_commit(
    payload: dict[str, Any], deps: Services, head_sha: str, pulls: list[dict[str, Any]]
) -> None:
    """Re-evaluate the pull requests of a commit (forks' suites list none: ask GitHub)."""
    repository = payload["repository"]["full_name"]
    installation = _installation(payload)
    numbers = [pull["number"] for pull in pulls]
    if not numbers:
        owner, name = repository.split("/", 1)
        gh = deps.github.for_installation(installation)
        with github_errors():
            found = gh.rest.repos.list_pull_requests_associated_with_commit(
                owner, name, head_sha
            ).json()
        numbers = [pull["number"] for pull in found if pull.get("state") == "open"]
    for number in numbers:
        request_evaluation(deps, installation, repository, number)


@router.on("merge_group", "checks_requested")
def on_merge_group(payload: dict[str, Any], deps: Services) -> None:
    group = payload["merge_group"]
    evaluate_merge_group.apply_async(
        args=(
            _installation(payload),
            payload["repository"]["full_name"],
            {key: group[key] for key in ("head_sha", "head_ref", "base_sha")},
        )
    )


@router.on("push")
def on_push(payload: dict[str, Any], deps: Services) -> None:
    """A changed policy on the default branch re-judges every open pull request."""
    remember_actor("push", payload, deps)
    repository = payload["repository"]
    if payload.get("ref") != f"refs/heads/{repository.get('default_branch')}":
        return
    # Any push to the default branch may add the policy file (a push lists at most 20
    # commits): forget that it was absent, at the cost of one 404 at the next evaluation.
    forget_policy_absence(deps.state, repository["full_name"])
    changed = {
        path
        for commit in payload.get("commits") or ()
        for key in ("added", "modified", "removed")
        for path in commit.get(key) or ()
    }
    installation = _installation(payload)
    if POLICY_PATH in changed:
        reevaluate_repository.apply_async(args=(installation, repository["full_name"]))
    elif repository.get("name") == ".github" and ORG_POLICY_PATH in changed:
        reevaluate_installation.apply_async(args=(installation,))


@router.on("installation", "created", "new_permissions_accepted", "unsuspend")
@router.on("installation_repositories", "added")
def on_installation(payload: dict[str, Any], deps: Services) -> None:
    """A new or widened installation: give every open pull request its check."""
    repositories = payload.get("repositories") or payload.get("repositories_added") or []
    account = (payload.get("installation") or {}).get("account") or {}
    if account.get("login"):
        # The org's `.github` repository may have just become readable.
        forget_policy_absence(deps.state, f"{account['login']}/.github")
    for repo in repositories:
        forget_policy_absence(deps.state, repo["full_name"])
        reevaluate_repository.apply_async(args=(_installation(payload), repo["full_name"]))


@router.on("installation", "deleted", "suspend")
def on_installation_removed(payload: dict[str, Any], deps: Services) -> None:
    deps.github.forget_installation_token(_installation(payload))


@shared_task(name="workers.gate.reevaluate_repository")
def reevaluate_repository(installation_id: int, repository: str) -> int:
    """Queue an evaluation of every open pull request of `repository`."""
    deps = services()
    gh = deps.github.for_installation(installation_id)
    owner, name = repository.split("/", 1)
    numbers = [
        pull["number"]
        for pull in pages(
            lambda page: gh.rest.pulls.list(owner, name, state="open", per_page=100, page=page),
            10_000,
        )
    ]
    for number in numbers:
        request_evaluation(deps, installation_id, repository, number)
    return len(numbers)


@shared_task(name="workers.gate.reevaluate_installation")
def reevaluate_installation(installation_id: int) -> int:
    """Queue a re-evaluation of every repository the installation can see."""
    deps = services()
    gh = deps.github.for_installation(installation_id)

    repositories = [
        repo["full_name"]
        for repo in pages(
            lambda page: gh.rest.apps.list_repos_accessible_to_installation(
                per_page=100, page=page
            ),
            100_000,
            key="repositories",
        )
    ]
    for repository in repositories:
        reevaluate_repository.apply_async(args=(installation_id, repository))
    return len(repositories)


@shared_task(name="workers.gate.evaluate_pull_request", bind=True, leased=True)
def evaluate_pull_request(self: Any, installation_id: int, repository: str, number: int) -> str:
    """Evaluate one pull request at its current head and publish the check run.

    The check on a head is shared by every open pull request at that head, so it is the
    conjunction of all of them (`app.contexts`), published under a lock on the commit:
    two evaluations of pull requests at one head never race each other into a `success`.
    """
    deps = services()
    structlog.contextvars.bind_contextvars(
        installation=installation_id, repository=repository, pr=number
    )
    # Clear the pending flag before reading GitHub: an event that arrives from here on
    # queues a new evaluation, and one that arrived before is in what we are about to read.
    deps.state.delete(f"pending:{repository}#{number}")
    # Held in this run's name: redelivered after its worker died, it takes the lock over.
    with task_lock(deps.state, f"pr:{repository}#{number}", self.request.id, LOCK_TTL) as held:
        if not held:
            raise self.retry(countdown=0.5 + random.random(), max_retries=None)  # noqa: S311
        started = time.perf_counter()
        gh = deps.github.for_installation(installation_id)
        with gh:
            pull = current_pull(gh, deps.state, repository, number)
            head_sha = pull["head"]["sha"]
            if pull["state"] != "open":
                # Its head's other pull requests are judged without it from now on (while
                # too many share the head, each fails closed already).
                with contextlib.suppress(TooManyOpenPulls):
                    for other in open_pulls_at(gh, deps.state, repository, head_sha):
                        request_evaluation(deps, installation_id, repository, other)
                return "closed"
            commit_lock = f"commit:{repository}@{head_sha}"
            with task_lock(deps.state, commit_lock, self.request.id, LOCK_TTL) as held_commit:
                if not held_commit:
                    raise self.retry(countdown=0.5 + random.random(), max_retries=None)  # noqa: S311
                decision, result = _judge(self, deps, gh, repository, pull)
                if decision is not None and decision.policy is not None:
                    record_invalid_policy(deps, installation_id, repository, decision.policy)
                contexts = _contexts(self, deps, gh, repository, head_sha, {f"#{number}": result})
                verdict = commit_result(head_sha, contexts)
                verdict = _held_to_its_base(gh, repository, decision, verdict)
                record_decision(deps, gh, installation_id, repository, number, verdict, decision)
        metrics.EVALUATIONS.observe(time.perf_counter() - started)
        return str(verdict.conclusion)


def _held_to_its_base(
    gh: Any, repository: str, decision: Decision | None, verdict: Result
) -> Result:
    """`verdict`, not `success` for an agent's head approved only against another base
    (`app.contexts.held_to_its_base`); asks GitHub whether merging into that base needs
    passing checks (branch protection, or a ruleset)."""
    if decision is None or verdict.conclusion != "success" or not verdict.agent_involved:
        return verdict
    base = decision.pull["base"]
    default_branch = (base.get("repo") or {}).get("default_branch") or ""
    if base["ref"] == default_branch:
        return verdict
    guarded = branch_requires_checks(gh, repository, base["ref"])
    return held_to_its_base(verdict, base["ref"], default_branch, guarded)


def _judge(
    task: Any, deps: Services, gh: Any, repository: str, pull: dict[str, Any]
) -> tuple[Decision | None, Result]:
    """The decision on `pull`; any error becomes a failing result (after the retries)."""
    try:
        decision = decide(deps, gh, repository, pull)
    except TransientError as exc:
        if task.request.retries < task.max_retries:
            raise
        return None, error_result(str(exc), "", pull["head"]["sha"])
    except GoneError as exc:
        # Something the decision needs is not on GitHub (a commit, a comparison): fail
        # closed with GitHub's answer rather than an "internal error".
        return None, error_result(github_said(exc), "", pull["head"]["sha"])
    except Exception as exc:
        log.exception("gate.evaluation_error")
        return None, error_result(f"internal error {type(exc).__name__}", "", pull["head"]["sha"])
    return decision, decision.result


def _contexts(
    task: Any, deps: Services, gh: Any, repository: str, head_sha: str, own: dict[str, Result]
) -> dict[str, Result]:
    """`own` (one pull request's result, by `#N`) and the results of every other context of
    `head_sha`: each open pull request at it, judged now, and the merge group it heads, as
    last judged. A list that cannot be read fails the pull request closed."""
    [name] = own
    results = dict(own)
    try:
        others = [n for n in open_pulls_at(gh, deps.state, repository, head_sha) if f"#{n}" != name]
    except TransientError:
        if task.request.retries < task.max_retries:
            raise
        return {name: error_result("the open pull requests could not be listed", "", head_sha)}
    except TooManyOpenPulls as exc:
        return {name: error_result(str(exc), "", head_sha)}
    for other in others:
        pull = fetch_pull(gh, repository, other)
        if pull["state"] == "open" and pull["head"]["sha"] == head_sha:
            results[f"#{other}"] = _judge(task, deps, gh, repository, pull)[1]
    group = merge_group_verdict(deps, repository, head_sha)
    if group is not None:
        results["merge group"] = group
    return results


def record_invalid_policy(
    deps: Services, installation_id: int, repository: str, loaded: LoadedPolicy
) -> None:
    """Audit a broken policy once per broken version (its source names the content digest)."""
    if loaded.error is None:
        return
    emit(
        "policy.invalid",
        subject=repository,
        installation_id=installation_id,
        repository=repository,
        decision="invalid",
        reason=str(loaded.error),
        data={
            "source": loaded.source,
            "errors": [
                {"path": path, "message": message, "line": line}
                for path, message, line in loaded.error.errors
            ],
        },
        key=f"policy.invalid:{repository}:{loaded.source}",
    )


def rerun_key(event_type: str, result: Result) -> str | None:
    """The audit key of a decision recorded by the running task.

    A task that runs again (redelivered after its worker died, or retried after a
    failed publication) keeps its id: the same decision it already recorded is then
    recorded once. A different decision (a new head, a new review) gets its own event.
    """
    task_id = current_task.request.id if current_task else None
    if not task_id:
        return None
    digest = hashlib.sha256(json.dumps(result.to_dict(), sort_keys=True).encode()).hexdigest()
    return f"{event_type}:{task_id}:{result.head_sha}:{digest[:16]}"


def _against_default_branch(decision: Decision | None) -> bool:
    """Was the diff judged against the default branch (a merge group's always is)?"""
    if decision is None:
        return True
    base = decision.pull["base"]
    return bool(base["ref"] == (base.get("repo") or {}).get("default_branch"))


def record_decision(
    deps: Services,
    gh: Any,
    installation_id: int,
    repository: str,
    number: int,
    result: Result,
    decision: Decision | None,
) -> None:
    """Publish the check run and audit both the evaluation and the publication."""
    head_sha = result.head_sha
    link = decision.agent_link if decision else None
    agent = (
        link.agent
        if link
        else (decision.pull["user"]["login"] if decision and result.agent_involved else None)
    )
    subject = f"{repository}#{number}" if number else f"{repository}@{head_sha}"
    if decision is not None and decision.requesters:
        # For the deployment gate: whom the agent works for, by head and by pull request
        # (an agent may deploy an earlier commit of it).
        now = datetime.now(UTC)
        with deps.sessions.begin() as session:
            for login in decision.requesters:
                acted.record(session, repository, acted.REQUESTER_OF_HEAD, [head_sha], login, now)
                if number:
                    pull = [str(number)]
                    acted.record(session, repository, acted.REQUESTER_OF_PULL, pull, login, now)
    # Observe mode publishes a `neutral` check saying what enforcing would do; the audit
    # records the verdict, the mode and what was published.
    published = observed(result) if result.mode == "observe" else result
    emit(
        "gate.evaluated",
        subject=subject,
        installation_id=installation_id,
        repository=repository,
        agent=agent if result.agent_involved else None,
        decision=str(result.conclusion),
        reason=result.title,
        key=rerun_key("gate.evaluated", result),
        data={
            "head_sha": head_sha,
            "conclusion": str(result.conclusion),
            "mode": result.mode,
            "published": str(published.conclusion),
            "result": result.to_dict(),
            "token_id": link.token_id if link else None,
            "on_behalf_of": link.on_behalf_of if link else None,
        },
    )
    run = publish_check(
        gh,
        deps.state,
        repository=repository,
        head_sha=head_sha,
        result=published,
        check_name=deps.settings.check_name,
        app_id=int(deps.settings.app_id or 0),
        details_url=details_url(deps, repository, number) if number else deps.settings.foureyes_url,
    )
    emit(
        "check.published",
        subject=f"{repository}@{head_sha}",
        installation_id=installation_id,
        repository=repository,
        decision=str(published.conclusion),
        reason=published.title,
        data={
            "check_run_id": run["id"],
            "head_sha": head_sha,
            "pull_request": number or None,
            "mode": result.mode,
            "verdict": str(result.conclusion),
        },
        key=rerun_key("check.published", result),
    )
    if human_countersigned(result) and _against_default_branch(decision):
        # Provenance for the deployment and workflow guards: humans approved this head in
        # every context it stands in. A success that needed no approval countersigns
        # nothing: the deployment gate then judges the commits themselves. Neither does
        # an approval of the diff against another base: a head approved into `scratch`
        # carries whatever `scratch` has that the default branch lacks, unreviewed.
        record_passed_head(deps, repository, head_sha, number)
    else:
        withdraw_passed_head(deps, repository, head_sha)
    log.info("gate.published", head_sha=head_sha, conclusion=str(result.conclusion))


@shared_task(name="workers.gate.evaluate_merge_group", bind=True, leased=True)
def evaluate_merge_group(
    self: Any, installation_id: int, repository: str, group: dict[str, str]
) -> str:
    """A merge group's check: it passes only when every pull request in it passes.

    Whatever cannot be read fails the check with the reason (after the retries, for a
    transient error): the queue is answered at once instead of waiting for its timeout.
    """
    deps = services()
    head_sha = group["head_sha"]
    structlog.contextvars.bind_contextvars(
        installation=installation_id, repository=repository, merge_group=head_sha
    )
    gh = deps.github.for_installation(installation_id)
    with gh:
        try:
            result = judge_merge_group(deps, gh, repository, group)
        except TransientError as exc:
            if self.request.retries < self.max_retries:
                raise
            result = error_result(str(exc), "", head_sha)
        except GoneError as exc:
            result = error_result(github_said(exc), "", head_sha)
        except Exception as exc:
            log.exception("gate.evaluation_error")
            result = error_result(f"internal error {type(exc).__name__}", "", head_sha)
        record_decision(deps, gh, installation_id, repository, 0, result, None)
    return str(result.conclusion)
