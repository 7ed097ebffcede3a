"""Does a pull request count as agent work, and why? Pure: facts and policy in, reasons out."""

from __future__ import annotations

from app.policy.facts import Account, PullRequestFacts
from app.policy.globs import any_match, login_match
from app.policy.schema import Policy

INCOMPLETE_REASON = (
    "the commit or file list could not be read completely: agent involvement cannot be ruled out"
)


def is_agent_login(policy: Policy, facts: PullRequestFacts, login: str) -> bool:
    """Is `login` this app's own bot or does it match `agents.logins`?"""
    return _agent_match(policy, facts, login) is not None


def _agent_match(policy: Policy, facts: PullRequestFacts, login: str) -> str | None:
    """Which rule makes `login` an agent, in words, or None."""
    if login.lower() == facts.app_bot_login.lower():
        return "is this app's bot"
    if any(login_match(pattern, login) for pattern in policy.agents.logins):
        return "matches agents.logins"
    return None


def agent_involvement(policy: Policy, facts: PullRequestFacts) -> tuple[str, ...]:
    """The reasons the pull request counts as agent work; empty means none.

    Sources: the author, the head branch, the labels, every commit's author and
    committer, who pushed each commit as GitHub reported it, and the token broker's link
    to an agent branch. When the facts are
    incomplete (`facts.complete` is False) `INCOMPLETE_REASON` is among the reasons:
    a commit we could not read may be an agent's, so the pull request is treated as
    agent work (fail closed).
    """
    reasons: list[str] = []
    why = _agent_match(policy, facts, facts.author.login)
    if why:
        reasons.append(f"author {facts.author.login} {why}")
    if any_match(policy.agents.branches, facts.head_ref):
        reasons.append(f"head branch {facts.head_ref} matches agents.branches")
    for label in facts.labels:
        if any_match(policy.agents.labels, label, case_sensitive=False):
            reasons.append(f"label {label} matches agents.labels")
    for commit in facts.commits:
        reasons.extend(_commit_reasons(policy, facts, commit.sha, commit.author, commit.committer))
    reasons.extend(pusher_reasons(policy, facts))
    if facts.agent_link is not None:
        reasons.append(
            f"head branch {facts.head_ref} was pushed with agent token {facts.agent_link.token_id}"
            f" ({facts.agent_link.agent})"
        )
    if not facts.complete:
        reasons.append(INCOMPLETE_REASON)
    return tuple(dict.fromkeys(reasons))


def _commit_reasons(
    policy: Policy,
    facts: PullRequestFacts,
    sha: str,
    author: Account | None,
    committer: Account | None,
) -> list[str]:
    reasons = []
    for role, account in (("authored", author), ("committed", committer)):
        if account is not None and _agent_match(policy, facts, account.login):
            reasons.append(f"commit {sha[:7]} {role} by {account.login}")
    return reasons


def pusher_reasons(policy: Policy, facts: PullRequestFacts) -> list[str]:
    """Commits an agent identity pushed (GitHub's pusher, not the commit's metadata), and
    commits nobody is on record as pushing while an agent token that could push was live."""
    reasons = []
    for push in facts.pushes:
        why = _agent_match(policy, facts, push.actor)
        if why:
            reasons.append(f"commit {push.sha[:7]} was pushed by {push.actor}, who {why}")
    pushers = [token.token_id[:8] for token in facts.live_tokens if token.can_push]
    unknown = facts.pushers_unknown
    if unknown and pushers:
        shown = ", ".join(sha[:7] for sha in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        reasons.append(
            f"GitHub did not say who pushed commit{'s' if len(unknown) > 1 else ''} {shown},"
            " and agent token"
            f"{'s' if len(pushers) > 1 else ''} {', '.join(pushers)} with contents: write"
            f" {'were' if len(pushers) > 1 else 'was'} live: an agent may have pushed"
        )
    return reasons
