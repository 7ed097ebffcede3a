"""A commit's verdict is the conjunction of every context it stands in (DESIGN invariant 9).

A check run belongs to a commit, not to a pull request: GitHub shows the one check on a
head commit in every pull request whose head it is, and in the merge group it heads. So
the gate judges every open pull request at that head (a copy branch, a fork, a pull
request into a scratch base), adds the verdict on the merge group that head is (a branch
can point at a `gh-readonly-queue/…` commit), and publishes the worst; otherwise a
second, harmless-looking context would turn the shared check green for the first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from githubkit import GitHub
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.github.gather import stable_pages
from app.policy.result import Conclusion, Node, Result, Status
from app.services import Services
from app.state import SharedState

# Beyond this many open pull requests the list is not read to its end: fail closed.
MAX_OPEN_PULLS = 10_000
# Each context is judged at every evaluation of each of them: beyond this many pull
# requests at one head (an agent opening copies to exhaust the rate limit), fail closed.
MAX_PULLS_AT_HEAD = 20
OPEN_PULLS_TTL = 60.0
# A context is judged before observe mode is applied (at publication): a `neutral` one
# would be a bug, and counts as blocking.
SEVERITY = {
    Conclusion.SUCCESS: 0,
    Conclusion.NEUTRAL: 1,
    Conclusion.ACTION_REQUIRED: 1,
    Conclusion.FAILURE: 2,
}


class TooManyOpenPulls(Exception):
    """The open pull requests could not all be listed (other contexts may be missed), or
    too many share one head to judge them all."""


def open_pulls(gh: GitHub, state: SharedState, repository: str) -> list[dict[str, Any]]:
    """Every open pull request of `repository`, GitHub's authority on contexts: it holds
    fork pull requests, and unlike `GET /commits/{sha}/pulls` it does not answer only the
    merged pull request for a commit already on the default branch.

    One request per 100 open pull requests, each conditional: an evaluation reads the list
    for its own pull request and again under the commit's lock, and the second read is a
    free 304 unless a pull request changed in between. A list of several pages is proved
    to have held still while it was read (`stable_pages`), else read again. The pages'
    bodies are kept only `OPEN_PULLS_TTL` (they are large).
    """
    owner, name = repository.split("/", 1)
    path = f"/repos/{owner}/{name}/pulls?state=open"
    listed = stable_pages(gh, state, path, MAX_OPEN_PULLS + 1, OPEN_PULLS_TTL)
    if len(listed) > MAX_OPEN_PULLS:
        raise TooManyOpenPulls(f"more than {MAX_OPEN_PULLS} open pull requests")
    return listed


def open_pulls_at(gh: GitHub, state: SharedState, repository: str, head_sha: str) -> list[int]:
    """The numbers of every open pull request of `repository` whose head is `head_sha`."""
    numbers = [
        int(pull["number"])
        for pull in open_pulls(gh, state, repository)
        if pull["head"]["sha"] == head_sha
    ]
    if len(numbers) > MAX_PULLS_AT_HEAD:
        raise TooManyOpenPulls(
            f"{len(numbers)} open pull requests share head {head_sha[:7]} "
            f"(at most {MAX_PULLS_AT_HEAD} are judged): close the copies"
        )
    return sorted(numbers)


def merge_group_verdict(deps: Services, repository: str, head_sha: str) -> Result | None:
    """The latest verdict the gate published on `head_sha` as a merge group's head, from
    the audit log (durable, and written before the check run), or None."""
    with deps.sessions() as session:
        data = session.scalars(
            select(AuditEvent.data)
            .where(
                AuditEvent.type == "gate.evaluated",
                AuditEvent.subject == f"{repository}@{head_sha}",
            )
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
    return Result.from_dict(data["result"]) if data else None


def _order(name: str) -> tuple[bool, int]:
    """Pull requests by number, then the merge group."""
    return (not name.startswith("#"), int(name[1:]) if name.startswith("#") else 0)


def _status(conclusion: Conclusion) -> Status:
    if conclusion == Conclusion.SUCCESS:
        return Status.PASS
    return Status.PENDING if conclusion == Conclusion.ACTION_REQUIRED else Status.FAIL


def commit_result(head_sha: str, results: dict[str, Result]) -> Result:
    """The verdict on `head_sha`: the worst of its contexts' results, named `#N` for a pull
    request and `merge group`.

    One context: its own result, unchanged. Several: a tree with one child per context
    (its own tree beneath), titled by the ones that block.
    """
    if len(results) == 1:
        return next(iter(results.values()))
    ordered = sorted(results.items(), key=lambda item: _order(item[0]))
    conclusion = max((r.conclusion for _, r in ordered), key=SEVERITY.__getitem__)
    blocking = [name for name, r in ordered if r.conclusion != Conclusion.SUCCESS]
    everyone = ", ".join(name for name, _ in ordered)
    if blocking:
        first = next(r for _, r in ordered if r.conclusion != Conclusion.SUCCESS)
        title = f"Blocked by {', '.join(blocking)}: {first.title}"
        if not first.title.startswith("Blocked"):
            title = f"Blocked by {', '.join(blocking)}"
    else:
        title = f"Every context of this commit passes ({everyone})"
    children = tuple(
        Node(
            name=name,
            status=_status(result.conclusion),
            description=result.title,
            children=(result.root,),
            unblock=result.root.unblock,
        )
        for name, result in ordered
    )
    root = Node(
        name=f"commit {head_sha[:7]}",
        status=_status(conclusion),
        description=(
            f"The check on {head_sha[:7]} is shared by {everyone}: "
            "it passes only when every one of them passes"
        ),
        children=children,
        unblock="; ".join(f"{n}: {r.root.unblock}" for n, r in ordered if r.root.unblock),
    )
    return Result(
        conclusion=conclusion,
        title=title[:200],
        root=root,
        agent_involved=any(r.agent_involved for _, r in ordered),
        agent_reasons=tuple(dict.fromkeys(x for _, r in ordered for x in r.agent_reasons)),
        policy_source="; ".join(sorted({r.policy_source for _, r in ordered})),
        head_sha=head_sha,
        extra={"contexts": [name for name, _ in ordered]},
        mode=common_mode(result for _, result in ordered),
    )


def common_mode(results: Iterable[Result]) -> str:
    """Observe only when every context's policy observes (one enforcing, or unknown,
    context enforces the shared check)."""
    modes = {result.mode for result in results}
    return "observe" if modes == {"observe"} else "enforce"


def held_to_its_base(
    verdict: Result, base_ref: str, default_branch: str, base_protected: bool
) -> Result:
    """An agent's head approved against a base other than the default branch does not
    show `success`: the check belongs to the commit, so a pull request opened from it
    into the default branch (or this one retargeted there) would be green until foureyes
    judged it, and could be merged in that window. Into a base that needs no passing checks
    the check decides nothing, so nothing is lost; into one that does (branch protection or
    a ruleset) it must be able to pass, and does."""
    if (
        verdict.conclusion != Conclusion.SUCCESS
        or not verdict.agent_involved
        or base_ref == default_branch
        or base_protected
    ):
        return verdict
    title = (
        f"Blocked: passes into {base_ref} only; this agent commit goes into "
        f"{default_branch} only once judged against it"
    )
    root = Node(
        name="base",
        status=Status.PENDING,
        description=title,
        children=(verdict.root,),
        unblock=f"open the pull request into {default_branch} and have it approved there",
    )
    return dataclasses.replace(
        verdict, conclusion=Conclusion.ACTION_REQUIRED, title=title, root=root
    )
