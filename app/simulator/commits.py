"""The commit graph as GitHub's REST API shows it: one commit with its parents and files,
and the comparison of two commits (`GET /compare/{base}...{head}`).

GitHub's rules, from its REST description: an unknown base or head is 404 "Not Found";
two histories without a common ancestor are 404 "No common ancestor between B and H.";
without paging parameters a comparison lists the newest 250 commits; with `per_page` or
`page` it pages through them oldest first, and only the first page lists the files (at
most 300 for the whole comparison).
"""

from __future__ import annotations

from typing import Any

from app.simulator import examples, render
from app.simulator.http import Call, HttpError, Reply, page_bounds
from app.simulator.model import Commit, Repo
from app.simulator.world import World, blob_sha

MAX_COMPARE_COMMITS = 250
MAX_COMPARE_FILES = 300


def ancestors(world: World, sha: str) -> set[str]:
    """`sha` and every commit reachable from it."""
    seen: set[str] = set()
    todo = [sha]
    while todo:
        current = todo.pop()
        if current in seen or current not in world.commits:
            continue
        seen.add(current)
        todo.extend(world.commits[current].parents)
    return seen


def merge_base(world: World, base: str, head: str) -> str | None:
    """The newest common ancestor of `base` and `head` (creation order decides ties)."""
    common = ancestors(world, base) & ancestors(world, head)
    newest = None
    for sha in world.commits:  # insertion order is creation order
        if sha in common:
            newest = sha
    return newest


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[dict[str, Any]]:
    """The files that differ between two trees, as GitHub's diff entries, sorted by name."""
    files = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) == after.get(path):
            continue
        state = "added" if path not in before else "removed" if path not in after else "modified"
        content = after.get(path) if state != "removed" else before.get(path)
        lines = content.count("\n") + 1 if content else 0
        files.append(
            {
                "sha": blob_sha(after[path]) if path in after else None,
                "filename": path,
                "status": state,
                "additions": lines if state != "removed" else 0,
                "deletions": lines if state == "removed" else 0,
                "changes": lines,
                "blob_url": "",
                "raw_url": "",
                "contents_url": "",
                "patch": "",
            }
        )
    return files


def commit_body(world: World, repo: Repo, commit: Commit) -> dict[str, Any]:
    """`GET /commits/{ref}`: the commit, its parents, and what it changed (against its
    first parent, as GitHub shows a merge commit's files)."""
    first = world.commits.get(commit.parents[0]) if commit.parents else None
    files = changed_files(first.tree if first else {}, commit.tree)[:MAX_COMPARE_FILES]
    body = render.commit(world, repo, commit)
    additions = sum(f["additions"] for f in files)
    deletions = sum(f["deletions"] for f in files)
    body["stats"] = {"total": additions + deletions, "additions": additions, "deletions": deletions}
    body["files"] = files
    return body


def get_commit(call: Call) -> Reply:
    repo = call.require_repo()
    ref = call.params["ref"]
    commit = call.world.resolve(repo, ref)
    if commit is None:
        # GitHub answers an unknown sha or ref with 422, not 404 (its description lists both).
        raise HttpError(422, f"No commit found for SHA: {ref}")
    return Reply(200, commit_body(call.world, repo, commit))


def compare(call: Call) -> Reply:
    repo = call.require_repo()
    basehead = call.params["basehead"]
    base_ref, dots, head_ref = basehead.partition("...")
    if not dots:
        base_ref, dots, head_ref = basehead.partition("..")
    base = call.world.resolve(repo, base_ref) if dots and base_ref else None
    head = call.world.resolve(repo, head_ref) if dots and head_ref else None
    if base is None or head is None:
        raise HttpError(404, "Not Found")
    world = call.world
    with world.lock:
        common = merge_base(world, base.sha, head.sha)
        if common is None:
            raise HttpError(404, f"No common ancestor between {base_ref} and {head_ref}.")
        from_head, from_base = ancestors(world, head.sha), ancestors(world, base.sha)
        ahead = [sha for sha in world.commits if sha in from_head and sha not in from_base]
        behind = [sha for sha in world.commits if sha in from_base and sha not in from_head]
        files = changed_files(world.commits[common].tree, head.tree)
    paged = "page" in call.query or "per_page" in call.query
    page, per_page = page_bounds(call)
    start, end = ((page - 1) * per_page, page * per_page) if paged else (-MAX_COMPARE_COMMITS, None)
    shown = ahead[start:end]
    api = f"{call.base_url}/repos/{repo.full_name}"
    body = render.rebase(world, examples.rest("commit-comparison"))
    body.update(
        url=f"{api}/compare/{basehead}",
        status=_status(ahead, behind),
        ahead_by=len(ahead),
        behind_by=len(behind),
        total_commits=len(ahead),
        base_commit=render.commit(world, repo, base),
        merge_base_commit=render.commit(world, repo, world.commits[common]),
        commits=[render.commit(world, repo, world.commits[sha]) for sha in shown],
    )
    body.pop("files", None)
    if not paged or page == 1:
        body["files"] = files[:MAX_COMPARE_FILES]
    return Reply(200, body, _links(call, api, basehead, page, per_page, len(ahead), paged))


def _status(ahead: list[str], behind: list[str]) -> str:
    if ahead and behind:
        return "diverged"
    if ahead:
        return "ahead"
    return "behind" if behind else "identical"


def _links(
    call: Call, api: str, basehead: str, page: int, per_page: int, total: int, paged: bool
) -> dict[str, str]:
    """GitHub's `Link` header of a paged comparison (`next`, `last`, `first`, `prev`)."""
    if not paged:
        return {}
    last = max((total + per_page - 1) // per_page, 1)

    def url(number: int) -> str:
        return f"<{api}/compare/{basehead}?per_page={per_page}&page={number}>"

    links = []
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(min(page - 1, last))}; rel="prev"']
    return {"Link": ", ".join(links)} if links else {}
