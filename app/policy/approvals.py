"""Which reviews count as approvals for a rule, and why the others do not (invariants 3,
4, 10, 11).

Only each user's latest decisive review counts, as on GitHub: a later COMMENTED (or
PENDING) review leaves an earlier APPROVED or CHANGES_REQUESTED in force, a later
APPROVED, CHANGES_REQUESTED or DISMISSED one replaces it. Reviews are ordered by id,
which GitHub assigns increasingly. An approval counts for the head and the base it was
given on; a dismissal counts only when an eligible human is on record as its actor.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.policy.agents import agent_requesters, is_agent_login
from app.policy.facts import (
    PERMISSION_ORDER,
    Account,
    PullRequestFacts,
    Review,
    permission_at_least,
)
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


LINKED_HUMAN = "is the human the agent works for"


def excluded_humans(policy: Policy, facts: PullRequestFacts) -> dict[str, tuple[str, str]]:
    """The humans who may not approve or lift a block on agent work (lower-cased login ->
    (login, why)): everyone on whose behalf an agent token that could have acted was live
    during the pull request's life (every such token acts as this app's bot, so ambiguity
    excludes), the one the branch's token link names, and the humans the catalogue's
    agents work for (`app.policy.agents.agent_requesters`). Each source only adds."""
    excluded: dict[str, tuple[str, str]] = {}
    link = facts.agent_link
    if link is not None and link.on_behalf_of:
        excluded[link.on_behalf_of.lower()] = (link.on_behalf_of, LINKED_HUMAN)
    for token in facts.live_tokens:
        if token.on_behalf_of:
            excluded.setdefault(
                token.on_behalf_of.lower(),
                (
                    token.on_behalf_of,
                    f"agent token {token.token_id[:8]} ({token.agent}) acting for them was"
                    " live during the pull request's life",
                ),
            )
    for key, found in agent_requesters(policy, facts).items():
        excluded.setdefault(key, found)
    return excluded


def person_ineligibility(
    policy: Policy, facts: PullRequestFacts, user: Account, agent_involved: bool = True
) -> list[str]:
    """Why `user` may not decide on this pull request, whatever the rule (empty: may)."""
    login = user.login
    key = login.lower()
    reasons: list[str] = []
    if user.is_bot:
        reasons.append("is a bot")
    if is_agent_login(policy, facts, login):
        reasons.append("is an agent")
    if key == facts.author.login.lower():
        reasons.append("is the pull request's author")
    excluded = excluded_humans(policy, facts) if agent_involved else {}
    if key in excluded:
        reasons.append(excluded[key][1])
    sha = contributors(facts).get(key)
    if sha is not None and not policy.merge.allow_contributors:
        reasons.append(f"authored or committed commit {sha[:7]}")
    elif not facts.complete and not policy.merge.allow_contributors:
        # GitHub lists at most 250 commits: a reviewer may have committed beyond them.
        reasons.append("the commit list is incomplete, so committing to it cannot be ruled out")
    return reasons


def ineligibility(
    policy: Policy,
    facts: PullRequestFacts,
    requirement: Requirement,
    review: Review,
    agent_involved: bool = True,
) -> list[str]:
    """Why this reviewer may not approve under `requirement` (empty: eligible).

    The head-commit check is not here: a change request on an older head still blocks.
    """
    login = review.user.login
    key = login.lower()
    reasons = person_ineligibility(policy, facts, review.user, agent_involved)
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


def dismissal_void(policy: Policy, facts: PullRequestFacts, review: Review) -> str | None:
    """Why the dismissal of `review` does not count (None: it does). Only an eligible
    human may lift a human's decision; who dismissed it is GitHub's record, and a
    dismissal nobody is on record for does not count (fail closed)."""
    dismissal = facts.dismissals.get(review.id)
    if dismissal is None or not dismissal.actors:
        return "GitHub has no record of who dismissed it"
    for actor in dismissal.actors:
        reasons = person_ineligibility(policy, facts, actor)
        reviewer = facts.reviewers.get(actor.login) or facts.reviewers.get(actor.login.lower())
        permission = reviewer.permission if reviewer is not None else None
        if not permission_at_least(permission, "write"):
            reasons.append(f"has {permission or 'unknown'} permission, needs write")
        if reasons:
            return f"dismissed by {actor.login}, who {'; '.join(reasons)}"
    return None


def tally(
    policy: Policy, facts: PullRequestFacts, requirement: Requirement, agent_involved: bool = True
) -> Tally:
    """Count the eligible approvals of the head commit and the eligible change requests."""
    head = facts.head_sha
    approvers: list[str] = []
    blockers: list[str] = []
    considered: list[Approval] = []
    for review in latest_reviews(facts.reviews):
        login = review.user.login
        state, standing = review.state, ""
        if state == "DISMISSED":
            void = dismissal_void(policy, facts, review)
            dismissal = facts.dismissals.get(review.id)
            was = dismissal.state if dismissal is not None else None
            if void is None or was == "approved":
                considered.append(Approval(login, False, "review was dismissed"))
                continue
            # The block stands: the dismissal does not count, and an unknown earlier
            # state is taken as a change request (fail closed).
            state, standing = "CHANGES_REQUESTED", f"; the dismissal does not count: {void}"
        reasons = ineligibility(policy, facts, requirement, review, agent_involved)
        if state == "CHANGES_REQUESTED":
            if reasons:
                why = "; ".join(reasons)
                considered.append(
                    Approval(login, False, f"requested changes, ignored: {why}{standing}")
                )
            else:
                blockers.append(login)
                considered.append(
                    Approval(
                        login,
                        False,
                        f"requested changes on {review.commit_id[:7]}: blocks until they"
                        f" approve or an eligible human dismisses the review{standing}",
                    )
                )
            continue
        if facts.base_since is not None and (
            review.submitted_at is None or review.submitted_at <= facts.base_since
        ):
            reasons.insert(0, f"approved before {facts.base_change}: for another diff")
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
