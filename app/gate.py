"""Decide a pull request: gather its facts, evaluate them under the default-branch policy.

Shared by the worker (which publishes and audits the decision) and `foureyes policy
explain` (which only prints it). No decision is written here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from githubkit import GitHub

from app.github.client import github_errors
from app.github.gather import gather_pull_request, load_repository_policy, pages
from app.policy.evaluate import evaluate, policy_error_result
from app.policy.facts import AgentLink
from app.policy.result import Conclusion, Node, Result, Status
from app.services import Services


@dataclass(frozen=True)
class Decision:
    result: Result
    pull: dict[str, Any]
    agent_link: AgentLink | None


def fetch_pull(gh: GitHub, repository: str, number: int) -> dict[str, Any]:
    owner, name = repository.split("/", 1)
    with github_errors():
        return gh.rest.pulls.get(owner, name, number).json()


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
        return Decision(policy_error_result(loaded.error, loaded.source, head_sha), pull, link)
    facts = gather_pull_request(
        gh,
        deps.state,
        repository,
        pull,
        loaded.policy,
        app_bot_login=deps.github.bot_login(),
        agent_link=link,
    )
    return Decision(evaluate(loaded.policy, facts, loaded.source), pull, link)


# A merge queue names its newest entry in the branch (`gh-readonly-queue/main/pr-42-<sha>`);
# squash and merge commits name theirs in the message.
QUEUE_REF = re.compile(r"/pr-(\d+)-[0-9a-f]+$")
MESSAGE_REF = re.compile(r"(?:\(#(\d+)\)\s*$|^Merge pull request #(\d+))", re.MULTILINE)


def merge_group_pulls(gh: GitHub, repository: str, group: dict[str, Any]) -> list[int]:
    """The pull requests a merge group carries: its queue entry and the ones its commits name."""
    owner, name = repository.split("/", 1)
    numbers: set[int] = set()
    match = QUEUE_REF.search(group.get("head_ref", ""))
    if match:
        numbers.add(int(match.group(1)))
    basehead = f"{group['base_sha']}...{group['head_sha']}"
    commits = pages(
        lambda page: gh.rest.repos.compare_commits(owner, name, basehead, page=page, per_page=100),
        250,
        key="commits",
    )
    for commit in commits:
        for found in MESSAGE_REF.finditer((commit.get("commit") or {}).get("message", "")):
            numbers.add(int(found.group(1) or found.group(2)))
    return sorted(numbers)


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
        conclusion, title = worst, f"Blocked: {', '.join(blocking)} not approved"
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
    )
