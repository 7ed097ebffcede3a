"""Reviewed provenance of a commit, and who counts as an agent. Pure: no I/O.

A commit has reviewed provenance when a human countersigned it: eligible humans approved
it as the head of every pull request it stands in (as the merge gate counted them), or it
is the merge of a pull request whose head was so approved, or
none of the commits it introduces (relative to the newest countersigned commit it
descends from) is an agent's. Commits we could not list are unknown, and unknown is
not reviewed (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.policy.agents import known_agents
from app.policy.catalogue import login_owner
from app.policy.evaluate import ROOT_NAME
from app.policy.facts import Account, AgentLink, Commit
from app.policy.globs import any_match, glob_match, login_match
from app.policy.result import Conclusion, Node, Result, Status
from app.policy.schema import Policy

AGENT_BRANCH_PREFIX = "agents/"


def agent_reason(policy: Policy, app_bot_login: str, account: Account | str | None) -> str | None:
    """Why `account` is an agent (this app's bot, whose tokens agents use, a login in
    `agents.logins` or an account of the catalogue's enabled agents), or None."""
    login = account.login if isinstance(account, Account) else account
    if not login:
        return None
    if login.lower() == app_bot_login.lower():
        return f"{login} is this app's bot, the identity of agent tokens"
    if any(login_match(pattern, login) for pattern in policy.agents.logins):
        return f"{login} matches agents.logins"
    entry = login_owner(known_agents(policy), login)
    if entry is not None:
        return f"{login} is {entry.title}'s account (agent catalogue)"
    return None


def agent_branch_reason(policy: Policy, ref: str, link: AgentLink | None) -> str | None:
    """Why the branch `ref` is an agent's, or None."""
    branch = ref.removeprefix("refs/heads/")
    if link is not None:
        return f"branch {branch} was pushed with agent token {link.token_id} ({link.agent})"
    if any_match(policy.agents.branches, branch):
        return f"branch {branch} matches agents.branches"
    for entry in known_agents(policy):
        pattern = next((b for b in entry.branches if glob_match(b, branch)), None)
        if pattern is not None:
            return f"branch {branch} matches {pattern} ({entry.title})"
    return None


@dataclass(frozen=True)
class Provenance:
    reviewed: bool
    reason: str
    agent_commits: tuple[str, ...] = ()  # the unreviewed agent commits, short shas
    agents: tuple[str, ...] = ()  # the logins of the agents who authored or committed them


def commit_provenance(
    policy: Policy,
    app_bot_login: str,
    sha: str,
    *,
    countersigned: bool,
    introduced: tuple[Commit, ...] | None,
    base: str | None = None,
    pushers: dict[str, tuple[str, ...]] | None = None,
    unknown_pusher_agent: str | None = None,
) -> Provenance:
    """The provenance of `sha`.

    `countersigned`: humans approved `sha` as a head through the gate, or `sha` is the
    merge of such a head. `introduced`: the commits `sha` adds on top of `base` (the newest
    countersigned commit it descends from, else the default branch); None when they
    could not be listed completely. `pushers`: who pushed each introduced commit, as
    GitHub reported it (the author and committer are only what the commit says).
    `unknown_pusher_agent`: set (to the live token that could have pushed) when a commit
    nobody is on record as pushing counts as an agent's: ambiguity excludes.
    """
    if countersigned:
        return Provenance(True, f"commit {sha[:7]} was approved through the merge gate")
    if introduced is None:
        return Provenance(
            False, f"the commits that {sha[:7]} introduces could not be listed completely"
        )
    agent_commits: list[str] = []
    agents: list[str] = []
    for commit in introduced:
        pushed_by = (pushers or {}).get(commit.sha)
        people = [commit.author, commit.committer, *(pushed_by or ())]
        for person in people:
            if person is not None and agent_reason(policy, app_bot_login, person):
                agent_commits.append(commit.sha[:7])
                agents.append(person.login if isinstance(person, Account) else person)
        if pushers is not None and not pushed_by and unknown_pusher_agent:
            agent_commits.append(commit.sha[:7])
            agents.append(unknown_pusher_agent)
    since = f" since {base[:7]}" if base else ""
    if agent_commits:
        return Provenance(
            False,
            f"commit {sha[:7]} carries unreviewed agent commits{since}: "
            + ", ".join(dict.fromkeys(agent_commits)),
            tuple(dict.fromkeys(agent_commits)),
            tuple(dict.fromkeys(agents)),
        )
    return Provenance(True, f"no commit that {sha[:7]} introduces{since} is an agent's")


def human_countersigned(result: Result) -> bool:
    """Did the gate pass `result`'s head on approvals it counted, in every pull request
    the result speaks for (one, the pull requests at a shared head, or a merge group's)?

    A success that needed no approval ("no agent involvement", "no rule applies") is not
    a countersignature: nobody looked at the code.
    """
    if result.conclusion != Conclusion.SUCCESS:
        return False
    pulls = list(_pull_roots(result.root))
    return bool(pulls) and all(_approved(root) for root in pulls)


def _pull_roots(node: Node) -> list[Node]:
    """The root of each pull request's own tree inside `node` (a combined tree nests them)."""
    if node.name == ROOT_NAME:
        return [node]
    return [root for child in node.children for root in _pull_roots(child)]


def _approved(root: Node) -> bool:
    """Passed, with at least one rule satisfied by approvals the gate counted."""
    return root.status is Status.PASS and any(
        rule.status is Status.PASS and any(approval.counted for approval in rule.approvals)
        for rule in root.children
    )
