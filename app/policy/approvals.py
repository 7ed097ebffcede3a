"""Which reviews count as approvals for a rule, and why the others do not (invariants 3, 4).

Only each user's latest decisive review counts, as on GitHub: a later COMMENTED (or
PENDING) review leaves an earlier APPROVED or CHANGES_REQUESTED in force, a later
APPROVED, CHANGES_REQUESTED or DISMISSED one replaces it. Reviews are ordered by id,
which GitHub assigns increasingly.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.policy.agents import is_agent_login
from app.policy.facts import PERMISSION_ORDER, PullRequestFacts, Review, permission_at_least
from app.policy.result import Approval
from app.policy.schema import Policy, Requirement

DECISIVE_STATES = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


@dataclass(frozen=True)
class Tally:
    """The reviews one rule considered."""

    approvers: tuple[str, ...]  # distinct logins whose approval counts
    blockers: tuple[str, ...]  # eligible reviewers whose latest review requests changes
    considered: tuple[Approval, ...]  # every latest decisive review, counted or not, and why


def latest_reviews(reviews: tuple[Review, ...]) -> tuple[Review, ...]:
    """Each user's latest decisive review, in the order users first reviewed."""
    latest: dict[str, Review] = {}
    for review in sorted(reviews, key=lambda r: r.id):
        if review.state in DECISIVE_STATES:
            latest[review.user.login.lower()] = review
    return tuple(latest.values())


def contributors(facts: PullRequestFacts) -> dict[str, str]:
    """Logins (lower-cased) of everyone who authored or committed a commit, with one sha."""
    found: dict[str, str] = {}
    for commit in facts.commits:
        for account in (commit.author, commit.committer):
            if account is not None:
                found.setdefault(account.login.lower(), commit.sha)
    return found


def ineligibility(
    policy: Policy, facts: PullRequestFacts, requirement: Requirement, review: Review
) -> list[str]:
    """Why this reviewer may not approve under `requirement` (empty: eligible).

    The head-commit check is not here: a change request on an older head still blocks.
    """
    login = review.user.login
    key = login.lower()
    reasons: list[str] = []
    if review.user.is_bot:
        reasons.append("is a bot")
    if is_agent_login(policy, facts, login):
        reasons.append("is an agent")
    if key == facts.author.login.lower():
        reasons.append("is the pull request's author")
    link = facts.agent_link
    if link is not None and link.on_behalf_of and key == link.on_behalf_of.lower():
        reasons.append("is the human the agent works for")
    sha = contributors(facts).get(key)
    if sha is not None and not policy.merge.allow_contributors:
        reasons.append(f"authored or committed commit {sha[:7]}")
    elif not facts.complete and not policy.merge.allow_contributors:
        # GitHub lists at most 250 commits: a reviewer may have committed beyond them.
        reasons.append("the commit list is incomplete, so committing to it cannot be ruled out")
    reviewer = facts.reviewers.get(login) or facts.reviewers.get(key)
    permission = reviewer.permission if reviewer is not None else None
    if permission not in PERMISSION_ORDER:
        reasons.append("permission unknown")
    elif not permission_at_least(permission, requirement.permission):
        reasons.append(f"has {permission} permission, needs {requirement.permission}")
    if requirement.teams:
        teams = reviewer.teams if reviewer is not None else None
        if teams is None:
            reasons.append("team membership unknown")
        elif not set(requirement.teams) & set(teams):
            reasons.append(f"not in {' or '.join(requirement.teams)}")
    if requirement.users and key not in {user.lower() for user in requirement.users}:
        reasons.append("not among require.users")
    return reasons


def tally(policy: Policy, facts: PullRequestFacts, requirement: Requirement) -> Tally:
    """Count the eligible approvals of the head commit and the eligible change requests."""
    head = facts.head_sha
    approvers: list[str] = []
    blockers: list[str] = []
    considered: list[Approval] = []
    for review in latest_reviews(facts.reviews):
        login = review.user.login
        if review.state == "DISMISSED":
            considered.append(Approval(login, False, "review was dismissed"))
            continue
        reasons = ineligibility(policy, facts, requirement, review)
        if review.state == "CHANGES_REQUESTED":
            if reasons:
                why = "; ".join(reasons)
                considered.append(Approval(login, False, f"requested changes, ignored: {why}"))
            else:
                blockers.append(login)
                considered.append(
                    Approval(
                        login,
                        False,
                        f"requested changes on {review.commit_id[:7]}: blocks until they"
                        " approve or the review is dismissed",
                    )
                )
            continue
        if review.commit_id != head:
            reasons.insert(0, f"approved an older head {review.commit_id[:7]}")
        if reasons:
            considered.append(Approval(login, False, "; ".join(reasons)))
            continue
        approvers.append(login)
        considered.append(Approval(login, True, _counted_reason(facts, requirement, login)))
    return Tally(tuple(approvers), tuple(blockers), tuple(considered))


def _counted_reason(facts: PullRequestFacts, requirement: Requirement, login: str) -> str:
    reviewer = facts.reviewers.get(login) or facts.reviewers.get(login.lower())
    permission = reviewer.permission if reviewer is not None else "unknown"
    reason = f"{permission} permission, approved head {facts.head_sha[:7]}"
    if requirement.teams and reviewer is not None and reviewer.teams:
        reason += f", in {', '.join(sorted(set(requirement.teams) & set(reviewer.teams)))}"
    return reason
