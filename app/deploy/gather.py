"""What the guards learn from GitHub: comparisons, workflow runs, branches, provenance.

Comparisons of two fixed shas never change, so they are cached in the shared state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from githubkit import GitHub
from githubkit.exception import RequestFailed

from app import acted
from app.deploy import records
from app.deploy.provenance import Provenance, commit_provenance
from app.errors import GoneError
from app.github.actors import head_pushes
from app.github.client import github_errors
from app.github.gather import account
from app.policy.facts import Account, Commit
from app.policy.schema import Policy
from app.services import Services
from app.who_acted import RECENT_AGENT_WINDOW, live_tokens

PER_PAGE = 100
MAX_COMMITS = 250  # GitHub lists at most 250 commits of a comparison
MAX_FILES = 300  # and at most 300 files
COMPARE_TTL = 7 * 24 * 3600.0
SHA_LENGTH = 40


@dataclass(frozen=True)
class Comparison:
    status: str  # ahead | behind | identical | diverged
    commits: tuple[Commit, ...]  # reachable from head, not from base; oldest first
    files: tuple[str, ...]  # changed between the merge base and head (renames: both paths)
    parents: dict[str, tuple[str, ...]]  # commit sha -> parent shas
    complete: bool  # False when GitHub's caps cut the commit or file list


def _commit(item: dict[str, Any]) -> Commit:
    return Commit(
        sha=item["sha"],
        author=account(item.get("author")),
        committer=account(item.get("committer")),
        message=(item.get("commit") or {}).get("message", "")[:500],
    )


def compare(gh: GitHub, deps: Services, repository: str, base: str, head: str) -> Comparison:
    """`GET /compare/{base}...{head}`, every page of commits (up to GitHub's caps)."""
    owner, name = repository.split("/", 1)
    key = f"compare:{repository}:{base}...{head}"
    fixed = len(base) == SHA_LENGTH and len(head) == SHA_LENGTH
    cached = deps.state.get(key) if fixed else None
    if cached:
        return _from_json(json.loads(cached))
    items: list[dict[str, Any]] = []
    body: dict[str, Any] = {}
    page = 1
    while True:
        with github_errors():
            response = gh.rest.repos.compare_commits(
                owner, name, f"{base}...{head}", page=page, per_page=PER_PAGE
            )
        body = response.json() if page == 1 else body
        found = response.json().get("commits") or []
        items.extend(found)
        more = 'rel="next"' in response.headers.get("link", "")
        if not more or len(found) < PER_PAGE or len(items) >= MAX_COMMITS:
            break
        page += 1
    files: list[str] = []
    for item in body.get("files") or ():
        files.append(item["filename"])
        if item.get("previous_filename"):
            files.append(item["previous_filename"])
    total = int(body.get("total_commits") or len(items))
    comparison = Comparison(
        status=str(body.get("status") or ""),
        commits=tuple(_commit(item) for item in items),
        files=tuple(files),
        parents={item["sha"]: tuple(p["sha"] for p in item.get("parents") or ()) for item in items},
        complete=len(items) >= total and len(body.get("files") or ()) < MAX_FILES,
    )
    if fixed:
        deps.state.set(key, json.dumps(_to_json(comparison)), COMPARE_TTL)
    return comparison


def _to_json(c: Comparison) -> dict[str, Any]:
    return {
        "status": c.status,
        "commits": [
            {
                "sha": x.sha,
                "author": x.author.__dict__ if x.author else None,
                "committer": x.committer.__dict__ if x.committer else None,
                "message": x.message,
            }
            for x in c.commits
        ],
        "files": list(c.files),
        "parents": {sha: list(parents) for sha, parents in c.parents.items()},
        "complete": c.complete,
    }


def _from_json(data: dict[str, Any]) -> Comparison:
    return Comparison(
        status=data["status"],
        commits=tuple(
            Commit(
                sha=x["sha"],
                author=Account(**x["author"]) if x["author"] else None,
                committer=Account(**x["committer"]) if x["committer"] else None,
                message=x["message"],
            )
            for x in data["commits"]
        ),
        files=tuple(data["files"]),
        parents={sha: tuple(parents) for sha, parents in data["parents"].items()},
        complete=data["complete"],
    )


def provenance_of(
    gh: GitHub,
    deps: Services,
    policy: Policy,
    repository: str,
    sha: str,
    default_branch: str,
    app_bot_login: str,
    ref: str = "",
) -> Provenance:
    """The reviewed provenance of `sha`: countersigned itself, or judged by the commits it
    adds on top of the newest countersigned commit it descends from; without one, by the
    commits it adds to the default branch and those it brings in over its first parent
    (older default-branch history is the baseline that the push guard watches). Each
    commit is judged by who pushed it too, as GitHub reported it (`ref`: the branch it
    was pushed to, where GitHub's activity log is asked for pushes foureyes missed)."""
    if records.countersigned(deps, repository, sha):
        return commit_provenance(policy, app_bot_login, sha, countersigned=True, introduced=())
    for base in records.newest_countersigned(deps, repository):
        try:
            found = compare(gh, deps, repository, base, sha)
        except GoneError:
            continue
        # Not "behind": an ancestor of an approved head may be an intermediate state the
        # approval never saw (a payload a later commit removed); it is judged by what it
        # adds to the default branch instead.
        if found.status in ("ahead", "identical"):
            commits = found.commits if found.complete else None
            return _judged(gh, deps, policy, app_bot_login, repository, sha, base, commits, ref)
    # No countersigned ancestor: judge what the commit adds to the default branch and what
    # it brings in itself (a merge brings its pull request's commits, even once merged).
    on_branch = compare(gh, deps, repository, default_branch, sha)
    commits = {c.sha: c for c in on_branch.commits}
    complete = on_branch.complete
    parent = first_parent(gh, repository, sha)
    if parent is not None:
        own = compare(gh, deps, repository, parent, sha)
        commits.update((c.sha, c) for c in own.commits)
        complete = complete and own.complete
    introduced = tuple(commits.values()) if complete else None
    return _judged(
        gh, deps, policy, app_bot_login, repository, sha, default_branch, introduced, ref
    )


def _judged(
    gh: GitHub,
    deps: Services,
    policy: Policy,
    app_bot_login: str,
    repository: str,
    sha: str,
    base: str,
    introduced: tuple[Commit, ...] | None,
    ref: str,
) -> Provenance:
    pushers, unknown_agent = _pushers(gh, deps, repository, introduced or (), ref)
    return commit_provenance(
        policy,
        app_bot_login,
        sha,
        countersigned=False,
        introduced=introduced,
        base=base,
        pushers=pushers,
        unknown_pusher_agent=unknown_agent,
    )


def _pushers(
    gh: GitHub, deps: Services, repository: str, commits: tuple[Commit, ...], ref: str
) -> tuple[dict[str, tuple[str, ...]], str | None]:
    """Who pushed each of `commits` (foureyes' records of push webhooks, then GitHub's
    activity log for the branch), and, when some stay unknown, the agent token that could
    have pushed them (ambiguity excludes), else None."""
    shas = [commit.sha for commit in commits]
    if not shas:
        return {}, None
    branch = ref.removeprefix("refs/heads/") if ref and not ref.startswith("refs/tags/") else ""
    now = datetime.now(UTC)
    with deps.sessions.begin() as session:
        pushed = acted.actors(session, repository, acted.PUSH, shas)
        if branch and any(sha not in pushed for sha in shas):
            for push in head_pushes(gh, repository, branch, shas):
                acted.record(session, repository, acted.PUSH, [push.sha], push.actor, push.at)
                pushed.setdefault(push.sha, []).append((push.actor, push.at))
        tokens = ()
        if any(sha not in pushed for sha in shas):
            tokens = live_tokens(
                session, repository, repository.lower(), now - RECENT_AGENT_WINDOW, now
            )
    pushers = {sha: tuple(actor for actor, _ in pushed.get(sha, ())) for sha in shas}
    could_push = [token for token in tokens if token.can_push]
    unknown = (
        f"agent token {could_push[0].token_id[:8]} ({could_push[0].agent})" if could_push else None
    )
    return pushers, unknown


def first_parent(gh: GitHub, repository: str, sha: str) -> str | None:
    owner, name = repository.split("/", 1)
    try:
        with github_errors():
            parents = gh.rest.repos.get_commit(owner, name, sha).json().get("parents") or []
    except RequestFailed as exc:
        # GitHub answers an unknown commit with 422 "No commit found for SHA: ..." (its
        # message reaches the reason through `github_said`, which reads the cause).
        if exc.response.status_code != 422:
            raise
        raise GoneError(f"GitHub answered 422 for {exc.request.url.path}") from exc
    return parents[0]["sha"] if parents else None


def workflow_run(gh: GitHub, repository: str, run_id: int) -> dict[str, Any]:
    owner, name = repository.split("/", 1)
    with github_errors():
        return gh.rest.actions.get_workflow_run(owner, name, run_id).json()


def branch_requires_checks(gh: GitHub, repository: str, branch: str) -> bool:
    """Does merging into `branch` need passing checks: classic branch protection (GitHub's
    `protected` flag), or an active ruleset rule `required_status_checks`?"""
    if branch_protected(gh, repository, branch):
        return True
    owner, name = repository.split("/", 1)
    try:
        with github_errors():
            rules = gh.rest.repos.get_branch_rules(owner, name, branch, per_page=100).json()
    except GoneError:
        return False
    return any(rule.get("type") == "required_status_checks" for rule in rules)


def branch_protected(gh: GitHub, repository: str, branch: str) -> bool:
    """GitHub's `protected` flag of `branch`; a branch that is gone is not protected."""
    owner, name = repository.split("/", 1)
    try:
        with github_errors():
            return bool(gh.rest.repos.get_branch(owner, name, branch).json().get("protected"))
    except GoneError:
        return False
