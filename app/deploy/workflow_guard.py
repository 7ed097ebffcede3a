"""The workflow guard: stop runs of agent-changed, unapproved CI code.

Defence in depth: the broker never grants `workflows`, and GitHub already holds runs
from forks and first-time contributors. This catches what is left, e.g. an agent
that edits `.github/actions/**` (no `workflows` permission needed) on a branch of the
repository itself, whose run would hold the repository's secrets.
"""

from __future__ import annotations

from typing import Any

import structlog
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.audit.emit import emit
from app.deploy import records
from app.deploy.gather import Comparison, compare, workflow_run
from app.deploy.provenance import agent_reason
from app.deploy.workflows import WorkflowDecision, WorkflowRunFacts, decide_workflow_run
from app.errors import GoneError, TransientError
from app.gate import agent_link_for, fetch_pull
from app.github.answers import github_said
from app.github.client import github_errors
from app.github.gather import account, load_repository_policy
from app.identity.escalation import fenced
from app.policy.schema import Policy
from app.services import Services

log = structlog.get_logger()

DONE_TTL = 7 * 24 * 3600.0


def guard_run(
    deps: Services,
    installation_id: int,
    repository: str,
    run_id: int,
    default_branch: str,
    last_attempt: bool = True,
) -> str:
    """Judge the run as it is now; cancel, flag or leave it. Returns the action taken.

    `last_attempt`: a transient error while reading what the run changes is judged as
    unknown (the worst case) instead of being raised for a retry.
    """
    structlog.contextvars.bind_contextvars(repository=repository, run_id=run_id)
    gh = deps.github.for_installation(installation_id)
    try:
        run = workflow_run(gh, repository, run_id)
    except GoneError:
        return "gone"
    if run.get("status") == "completed":
        return "completed"
    attempt = int(run.get("run_attempt") or 1)
    loaded = load_repository_policy(gh, deps.state, repository, default_branch)
    if loaded.policy is None:
        # The gate already fails closed on every pull request; a run is not a merge.
        log.info("workflow_guard.policy_invalid", error=str(loaded.error))
        return "policy-invalid"
    facts = _facts(deps, gh, repository, run, default_branch, last_attempt)
    decision = decide_workflow_run(loaded.policy, facts)
    log.info("workflow_guard.decided", action=decision.action, changed=decision.changed)
    if decision.action == "none" or decision.action == "allow":
        return decision.action
    observing = loaded.policy.mode == "observe"
    if decision.action == "cancel" and not observing:
        _cancel(gh, repository, run_id)
    # `flag` leaves the run going but still records it: the audit must show the path. So
    # does observe mode, saying what enforcing would have done.
    cancelled = decision.action == "cancel" and not observing
    event_type = "workflow_run.cancelled" if cancelled else "workflow_run.flagged"
    reason = f"{decision.explanation} Agent involvement: {'; '.join(decision.reasons)}"
    if observing:
        would = {"cancel": "cancelled", "flag": "flagged"}[decision.action]
        reason = f"Observe mode: enforcing would have {would} the run. {reason}"
    emit(
        event_type,
        subject=f"{repository}#{facts.pull_number}"
        if facts.pull_number
        else f"{repository}@{facts.head_sha}",
        installation_id=installation_id,
        repository=repository,
        actor=facts.triggering_actor.login if facts.triggering_actor else None,
        agent=_agent(loaded.policy, facts),
        decision="cancelled" if cancelled else "flagged",
        reason=reason,
        data={
            "run_id": run_id,
            "run_attempt": attempt,
            "workflow": run.get("path"),
            "head_sha": facts.head_sha,
            "head_branch": facts.head_branch,
            "pull_request": facts.pull_number,
            "changed": list(decision.changed),
            "agent_involvement": list(decision.reasons),
            "mode": loaded.policy.mode,
            "would": decision.action,
        },
        key=f"{event_type}:{repository}:{run_id}:{attempt}",
    )
    if facts.pull_number and not observing:
        _comment_once(deps, gh, repository, facts.pull_number, run_id, attempt, decision)
    return f"observed-{decision.action}" if observing else decision.action


def _agent(policy: Policy, facts: WorkflowRunFacts) -> str | None:
    """Who the audit names as the agent: the token's identity, else the agent's login."""
    if facts.agent_link is not None:
        return facts.agent_link.agent
    people = [facts.triggering_actor, facts.actor, facts.pull_author]
    for commit in facts.commits or ():
        people.extend((commit.author, commit.committer))
    for person in people:
        if person is not None and agent_reason(policy, facts.app_bot_login, person):
            return person.login
    return None


def unreadable(exc: Exception) -> None:
    """What the run changes could not be read: the decision assumes the worst (an agent's
    change to CI code), so an unapproved run is cancelled or flagged, never let through."""
    log.warning("workflow_guard.unreadable", reason=github_said(exc), outcome="judged as unknown")


def _facts(
    deps: Services,
    gh: GitHub,
    repository: str,
    run: dict[str, Any],
    default_branch: str,
    last_attempt: bool,
) -> WorkflowRunFacts:
    head_sha = run["head_sha"]
    head_branch = run.get("head_branch") or ""
    pulls = run.get("pull_requests") or []
    pull = None
    try:
        pull = fetch_pull(gh, repository, pulls[0]["number"]) if pulls else None
        base = pull["base"]["sha"] if pull else default_branch
        found: Comparison | None = compare(gh, deps, repository, base, head_sha)
    except GoneError as exc:
        unreadable(exc)
        found = None
    except TransientError as exc:
        if not last_attempt:
            raise
        unreadable(exc)
        found = None
    return WorkflowRunFacts(
        repository=repository,
        run_id=int(run["id"]),
        head_sha=head_sha,
        head_branch=head_branch,
        actor=account(run.get("actor")),
        triggering_actor=account(run.get("triggering_actor")),
        pull_number=pull["number"] if pull else None,
        pull_author=account(pull["user"]) if pull else None,
        files=found.files if found and found.complete else None,
        commits=found.commits if found and found.complete else None,
        head_approved=records.head_passed(deps, repository, head_sha),
        app_bot_login=deps.github.bot_login(),
        agent_link=agent_link_for(deps, repository, head_branch) if head_branch else None,
    )


def _cancel(gh: GitHub, repository: str, run_id: int) -> None:
    owner, name = repository.split("/", 1)
    try:
        with github_errors():
            gh.rest.actions.cancel_workflow_run(owner, name, run_id)
    except RequestFailed as exc:
        # 409: the run completed meanwhile; there is nothing left to stop.
        if exc.response.status_code != 409:
            raise


def comment_text(decision: WorkflowDecision) -> str:
    """The pull request comment: the reasons quote logins and branch names, so they go in
    a block that no content can turn into markdown or @mentions."""
    return f"{decision.explanation}\n\nWhy an agent is involved:\n\n" + fenced(
        "\n".join(decision.reasons)
    )


def _comment_once(
    deps: Services,
    gh: GitHub,
    repository: str,
    number: int,
    run_id: int,
    attempt: int,
    decision: WorkflowDecision,
) -> None:
    key = f"workflow-guard-comment:{repository}:{run_id}:{attempt}"
    if not deps.state.add_if_absent(key, "1", DONE_TTL):
        return
    owner, name = repository.split("/", 1)
    try:
        with github_errors():
            gh.rest.issues.create_comment(owner, name, number, body=comment_text(decision))
    except Exception:
        deps.state.delete(key)
        raise
