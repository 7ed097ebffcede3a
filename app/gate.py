"""Decide a pull request: gather its facts, evaluate them under the default-branch policy.

Shared by the worker (which publishes and audits the decision) and `foureyes policy
explain` (which only prints it). No decision is written here.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from githubkit import GitHub

from app.acted import UNKNOWN_REQUESTER
from app.contexts import TooManyOpenPulls, common_mode, open_pulls
from app.errors import GoneError, TransientError
from app.github.answers import github_said
from app.github.client import github_errors, parse_time
from app.github.gather import (
    LoadedPolicy,
    gather_pull_request,
    known_head,
    load_repository_policy,
    pages,
)
from app.policy.agents import agent_requesters
from app.policy.evaluate import error_result, evaluate, policy_error_result
from app.policy.facts import AgentLink
from app.policy.result import Conclusion, Node, Result, Status
from app.services import Services
from app.state import SharedState
from app.who_acted import with_identity

# A `pull_request` webhook's copy of the pull request waits this long for its evaluation,
# and is trusted only while GitHub's `updated_at` is this recent (old redeliveries are not).
OFFER_TTL = 120.0
OFFER_MAX_AGE = 300.0
EVALUATED_TTL = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Decision:
    result: Result
    pull: dict[str, Any]
    agent_link: AgentLink | None
    policy: LoadedPolicy | None = None
    # The humans the catalogue's agents work for, as counted (`acted.UNKNOWN_REQUESTER`:
    # they could not be told): the deployment gate does not take their approval either.
    requesters: tuple[str, ...] = ()


def fetch_pull(gh: GitHub, repository: str, number: int) -> dict[str, Any]:
    owner, name = repository.split("/", 1)
    with github_errors():
        return gh.rest.pulls.get(owner, name, number).json()


def offer_pull(state: SharedState, repository: str, pull: dict[str, Any]) -> None:
    """Offer the pull request a `pull_request` webhook carried to the next evaluation.

    One offer waits at a time. A second one before the evaluation takes the first marks
    both ambiguous (deliveries may arrive out of order), and the evaluation asks GitHub.
    Only full pull request objects (with the `commits` and `changed_files` counts that
    tell a complete commit list from GitHub's capped one) are offered.
    """
    if "commits" not in pull or "changed_files" not in pull or not pull.get("updated_at"):
        return
    number = pull["number"]
    if not state.add_if_absent(_offer_key(repository, number), json.dumps(pull), OFFER_TTL):
        state.set(_conflict_key(repository, number), secrets.token_hex(8), OFFER_TTL)


def current_pull(
    gh: GitHub, state: SharedState, repository: str, number: int, now: datetime | None = None
) -> dict[str, Any]:
    """The pull request at its newest state: the webhook's copy when that is provably the
    newest, else its entry in the list of open pull requests (which the evaluation reads
    anyway for the other contexts of its head; the second read is a free 304) when its
    head's commits and files are known, else `GET /pulls/{number}`. Call while holding the
    pull request's lock.

    The copy is used only when it is the one offer since the last evaluation, is recent,
    and its `updated_at` is strictly later than that of every pull request object an
    evaluation of this pull request used before (one-second resolution: a tie asks
    GitHub). So an out-of-order or redelivered older payload never wins over a newer
    state, and a head, label or base change is never judged on an older copy.
    """
    offer_key, conflict_key = _offer_key(repository, number), _conflict_key(repository, number)
    evaluated_key = f"pull-evaluated:{repository}#{number}"
    offered, conflict = state.get(offer_key), state.get(conflict_key)
    if offered is not None:
        state.delete(offer_key, offered)
    if conflict is not None:
        state.delete(conflict_key, conflict)
    last = state.get(evaluated_key)
    pull = json.loads(offered) if offered is not None and conflict is None else None
    if pull is not None:
        updated = parse_time(pull["updated_at"])
        age = ((now or datetime.now(UTC)) - updated).total_seconds()
        if age > OFFER_MAX_AGE or (last is not None and updated <= parse_time(last)):
            pull = None
    if pull is None:
        pull = listed_pull(gh, state, repository, number) or fetch_pull(gh, repository, number)
    if last is None or parse_time(pull["updated_at"]) > parse_time(last):
        state.set(evaluated_key, pull["updated_at"], EVALUATED_TTL)
    return pull


def listed_pull(
    gh: GitHub, state: SharedState, repository: str, number: int
) -> dict[str, Any] | None:
    """The open pull request's entry in the list of open pull requests, if it is there and
    its head's commits and files are cached: an entry lacks the commit and file counts that
    tell a complete commit list from GitHub's capped one (it has every other field the
    evaluation reads)."""
    try:
        listed = open_pulls(gh, state, repository)
    except (TooManyOpenPulls, TransientError, GoneError):
        # The list only saves a request: the pull request is then read alone, and the
        # contexts' own read of the list decides what its failure means (the check fails
        # closed, saying so).
        return None
    for pull in listed:
        if pull["number"] == number and known_head(state, repository, pull):
            return pull
    return None


def _offer_key(repository: str, number: int) -> str:
    return f"pull-offer:{repository}#{number}"


def _conflict_key(repository: str, number: int) -> str:
    return f"pull-offer-conflict:{repository}#{number}"


def agent_link_for(deps: Services, repository: str, head_ref: str) -> AgentLink | None:
    """The token-broker record behind an agent branch, if the branch is one."""
    from app.identity.links import find_agent_link

    with deps.sessions() as session:
        return find_agent_link(session, repository, head_ref)


def decide(deps: Services, gh: GitHub, repository: str, pull: dict[str, Any]) -> Decision:
    """The gate's decision on `pull` at its current head. Fails closed on a broken policy."""
    head_sha = pull["head"]["sha"]
    default_branch = pull["base"]["repo"]["default_branch"]
    loaded = load_repository_policy(gh, deps.state, repository, default_branch)
    link = agent_link_for(deps, repository, pull["head"]["ref"])
    if loaded.policy is None:
        assert loaded.error is not None
        result = policy_error_result(loaded.error, loaded.source, head_sha)
        return Decision(result, pull, link, loaded)
    facts = gather_pull_request(
        gh,
        deps.state,
        repository,
        pull,
        loaded.policy,
        app_bot_login=deps.github.bot_login(),
        agent_link=link,
    )
    facts = with_identity(deps, gh, repository, pull, facts, loaded.policy)
    try:
        requesters = tuple(login for login, _ in agent_requesters(loaded.policy, facts).values())
    except ValueError:
        requesters = (UNKNOWN_REQUESTER,)
    result = evaluate(loaded.policy, facts, loaded.source)
    return Decision(result, pull, link, loaded, requesters)


# A merge queue names its newest entry in the branch (`gh-readonly-queue/main/pr-42-<sha>`);
# squash and merge commits name theirs in the message.
QUEUE_REF = re.compile(r"/pr-(\d+)-[0-9a-f]+$")
MESSAGE_REF = re.compile(r"(?:\(#(\d+)\)\s*$|^Merge pull request #(\d+))", re.MULTILINE)


def merge_group_pulls(gh: GitHub, repository: str, group: dict[str, Any]) -> list[int]:
    """The pull requests a merge group carries: its queue entry, the ones its commits name,
    and the open ones whose head is a parent of a group commit (a queue's merge commits
    have the pull requests' heads as parents, whatever their messages say)."""
    owner, name = repository.split("/", 1)
    numbers: set[int] = set()
    match = QUEUE_REF.search(group.get("head_ref", ""))
    if match:
        numbers.add(int(match.group(1)))
    basehead = f"{group['base_sha']}...{group['head_sha']}"
    try:
        commits = list(
            pages(
                lambda page: gh.rest.repos.compare_commits(
                    owner, name, basehead, page=page, per_page=100
                ),
                250,
                key="commits",
            )
        )
    except GoneError as exc:
        raise GoneError(
            f"GitHub could not compare the merge group's base and head ({basehead}): "
            + github_said(exc)
        ) from exc
    parents: set[str] = set()
    for commit in commits:
        for found in MESSAGE_REF.finditer((commit.get("commit") or {}).get("message", "")):
            numbers.add(int(found.group(1) or found.group(2)))
        parents.update(parent["sha"] for parent in commit.get("parents") or ())
    parents.discard(group["base_sha"])
    if parents:
        with github_errors():
            open_pulls = gh.rest.pulls.list(owner, name, state="open", per_page=100).json()
        numbers.update(pull["number"] for pull in open_pulls if pull["head"]["sha"] in parents)
    return sorted(numbers)


def judge_merge_group(deps: Services, gh: GitHub, repository: str, group: dict[str, Any]) -> Result:
    """The merge group's result. A pull request the group names that GitHub does not know
    (a commit message may name any number) fails the group, named in the summary; a
    comparison GitHub refuses fails the whole group with GitHub's answer."""
    head_sha = group["head_sha"]
    try:
        numbers = merge_group_pulls(gh, repository, group)
    except GoneError as exc:
        return error_result(str(exc), "", head_sha)
    decisions = {}
    for number in numbers:
        try:
            pull = fetch_pull(gh, repository, number)
        except GoneError as exc:
            unread = f"pull request #{number}, which the merge group names, could not be read"
            result = error_result(f"{unread}: {github_said(exc)}", "", head_sha)
            decisions[number] = Decision(replace(result, title=f"Blocked: {unread}"), {}, None)
            continue
        decisions[number] = decide(deps, gh, repository, pull)
    return merge_group_result(head_sha, decisions)


def merge_group_result(head_sha: str, decisions: dict[int, Decision]) -> Result:
    """A group passes only when it carries pull requests and every one of them passes."""
    children = tuple(
        Node(
            name=f"#{number}",
            status=Status.PASS
            if decision.result.conclusion == Conclusion.SUCCESS
            else Status.PENDING
            if decision.result.conclusion == Conclusion.ACTION_REQUIRED
            else Status.FAIL,
            description=decision.result.title,
            children=(decision.result.root,),
        )
        for number, decision in sorted(decisions.items())
    )
    blocking = [f"#{n}" for n, d in sorted(decisions.items()) if d.result.conclusion != "success"]
    if not decisions:
        conclusion, title = Conclusion.FAILURE, "Blocked: no pull request found in the merge group"
    elif blocking:
        worst = (
            Conclusion.FAILURE
            if any(d.result.conclusion == "failure" for d in decisions.values())
            else Conclusion.ACTION_REQUIRED
        )
        verdict = "not approved" if worst == Conclusion.ACTION_REQUIRED else "failing"
        conclusion, title = worst, f"Blocked: {', '.join(blocking)} {verdict}"
    else:
        conclusion, title = (
            Conclusion.SUCCESS,
            f"Every pull request in the group passes ({len(decisions)})",
        )
    status = Status.PASS if conclusion == Conclusion.SUCCESS else Status.FAIL
    root = Node(name="merge group", status=status, description=title, children=children)
    return Result(
        conclusion=conclusion,
        title=title,
        root=root,
        agent_involved=any(d.result.agent_involved for d in decisions.values()),
        policy_source="; ".join(sorted({d.result.policy_source for d in decisions.values()})),
        head_sha=head_sha,
        mode=common_mode(d.result for d in decisions.values()) if decisions else "enforce",
    )
