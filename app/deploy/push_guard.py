"""The push guard: flag an agent's push where agents must not write, and its merges.

A flag is a `push.flagged` audit event and an issue in the repository: one issue per
agent, repository and UTC day, with later flags of that day added as comments, so a
misbehaving agent cannot flood the issue tracker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from githubkit import GitHub
from sqlalchemy.exc import IntegrityError

from app.audit.emit import emit
from app.deploy import records
from app.deploy.gather import branch_protected
from app.deploy.models import PushFlagIssue
from app.deploy.provenance import agent_reason
from app.deploy.pushes import PushFacts, PushFlags, merge_flags, push_flags
from app.errors import TransientError
from app.gate import agent_link_for
from app.github.client import github_errors
from app.github.gather import load_repository_policy
from app.identity.escalation import fenced
from app.policy.schema import DEFAULT_POLICY, Policy
from app.services import Services
from app.state import held_lock
from app.who_acted import live_tokens

log = structlog.get_logger()

NOTE_TTL = 2 * 24 * 3600.0


def _policy(
    gh: GitHub, deps: Services, repository: str, default_branch: str, last_attempt: bool = False
) -> Policy:
    """The repository's policy; with a broken or (on the last attempt) unreadable one, the
    built-in default still knows this app's bot, so agent-token pushes are flagged
    whatever the file says."""
    try:
        loaded = load_repository_policy(gh, deps.state, repository, default_branch)
    except TransientError as exc:
        if not last_attempt:
            raise
        log.warning("push_guard.policy_unreadable", reason=str(exc), outcome="default policy")
        return DEFAULT_POLICY
    return loaded.policy or DEFAULT_POLICY


def _protected(gh: GitHub, repository: str, branch: str, last_attempt: bool) -> bool | None:
    """GitHub's `protected` flag; None when GitHub still fails on the last attempt."""
    try:
        return branch_protected(gh, repository, branch)
    except TransientError as exc:
        if not last_attempt:
            raise
        log.warning("push_guard.unreadable", reason=str(exc), outcome="protection unknown")
        return None


def guard_push(
    deps: Services,
    installation_id: int,
    repository: str,
    push: dict[str, Any],
    last_attempt: bool = True,
) -> tuple[str, ...]:
    """Flag the push when an agent identity made it where agents must not write.

    `last_attempt`: what GitHub still fails to answer is judged as the worst case (the
    built-in policy, a branch that may be protected) instead of raised for a retry.
    """
    app_bot = deps.github.bot_login()
    gh = deps.github.for_installation(installation_id)
    policy = _policy(gh, deps, repository, push["default_branch"], last_attempt)
    if agent_reason(policy, app_bot, push["sender"]) is None:
        return ()
    ref = push["ref"]
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    link = agent_link_for(deps, repository, ref) if branch else None
    protected: bool | None = False
    if branch and branch != push["default_branch"] and not push["deleted"]:
        protected = _protected(gh, repository, branch, last_attempt)
    now = datetime.now(UTC)
    with deps.sessions() as session:
        tokens = live_tokens(session, repository, repository.lower(), now, now)
    facts = PushFacts(
        repository=repository,
        ref=ref,
        pusher=push["sender"],
        default_branch=push["default_branch"],
        protected=protected,
        forced=push["forced"],
        deleted=push["deleted"],
        app_bot_login=app_bot,
        agent_link=link,
        live_tokens=tokens,
    )
    flags = push_flags(policy, facts)
    if flags.flagged:
        flag(
            deps,
            gh,
            installation_id,
            repository,
            flags,
            actor=push["sender"],
            subject=f"{repository}@{push['after']}",
            data={
                "ref": ref,
                "before": push["before"],
                "after": push["after"],
                "forced": push["forced"],
                "deleted": push["deleted"],
                "token_id": link.token_id if link else None,
                "on_behalf_of": link.on_behalf_of if link else None,
            },
            key=(
                f"push.flagged:{repository}:{ref}:{push['before']}:{push['after']}"
                f":{push.get('delivery', '')}"
            ),
        )
    return flags.reasons


def record_merge(
    deps: Services, installation_id: int, repository: str, merge: dict[str, Any]
) -> tuple[str, ...]:
    """Record the merge's provenance, and flag it when an agent merged."""
    gh = deps.github.for_installation(installation_id)
    # Only a head humans approved countersigns its merge: a green check may mean that no
    # approval was needed, so GitHub's check runs are not asked.
    passed = records.head_passed(deps, repository, merge["head_sha"])
    if merge.get("merge_commit_sha"):
        records.record_merge(
            deps,
            repository,
            merge["merge_commit_sha"],
            merge["number"],
            merge["head_sha"],
            merge["merged_by"],
            passed,
        )
    policy = _policy(gh, deps, repository, merge["default_branch"])
    flags = merge_flags(policy, merge["merged_by"], deps.github.bot_login())
    if flags.flagged:
        flag(
            deps,
            gh,
            installation_id,
            repository,
            flags,
            actor=merge["merged_by"],
            subject=f"{repository}#{merge['number']}",
            data={
                "pull_request": merge["number"],
                "merge_commit_sha": merge.get("merge_commit_sha"),
                "head_sha": merge["head_sha"],
                "base": merge["base_ref"],
                "gate_passed": passed,
            },
            key=f"push.flagged:{repository}#{merge['number']}:merged",
        )
    return flags.reasons


def flag(
    deps: Services,
    gh: GitHub,
    installation_id: int,
    repository: str,
    flags: PushFlags,
    *,
    actor: str,
    subject: str,
    data: dict[str, Any],
    key: str,
) -> None:
    """Audit the flag, then put it on the agent's issue of the day."""
    agent = flags.agent or actor
    emit(
        "push.flagged",
        subject=subject,
        installation_id=installation_id,
        repository=repository,
        actor=actor,
        agent=agent,
        decision="flagged",
        reason="; ".join(flags.reasons),
        data={**data, "reasons": list(flags.reasons)},
        key=key,
    )
    note = "\n".join(
        [
            f"**{subject.replace('`', '')}**: an agent identity did what agents must not:",
            "",
            fenced("\n".join(flags.reasons)),
        ]
    )
    if not deps.state.add_if_absent(f"push-flag-note:{key}", "1", NOTE_TTL):
        return
    try:
        _note_on_issue(deps, gh, repository, agent, note)
    except Exception:
        deps.state.delete(f"push-flag-note:{key}")
        raise
    log.info("push.flagged", subject=subject, reasons=flags.reasons)


def _note_on_issue(deps: Services, gh: GitHub, repository: str, agent: str, note: str) -> None:
    owner, name = repository.split("/", 1)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    with held_lock(deps.state, f"push-flag-issue:{repository}:{agent}:{day}", 120) as held:
        if not held:
            raise TransientError("another worker is opening the flag issue")
        with deps.sessions() as session:
            row = session.get(PushFlagIssue, (repository, agent, day))
            number = row.issue_number if row else None
        if number is not None:
            with github_errors():
                gh.rest.issues.create_comment(owner, name, number, body=note)
            return
        title = f"foureyes: flagged agent activity on {repository} ({day})"
        body = "\n".join(
            [
                f"Agent: `{agent.replace('`', '')}`",
                "",
                note,
                "",
                "Agents may push only to their own branches and never merge. Further flags "
                "for this agent today are added here as comments; every one is in the audit "
                "trail as `push.flagged`.",
            ]
        )
        with github_errors():
            issue = gh.rest.issues.create(owner, name, title=title, body=body).json()
        try:
            with deps.sessions.begin() as session:
                session.add(
                    PushFlagIssue(
                        repository=repository,
                        agent=agent,
                        day=day,
                        issue_number=int(issue["number"]),
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            log.warning("push_flag.issue_race", issue=issue["number"])
