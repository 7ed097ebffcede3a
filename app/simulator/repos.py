"""The git side of the simulated GitHub: pull requests, reviews, issues, check runs.

Plain functions over a `World` and a `Repo`; each takes the world's lock. Both the
story helpers (what people do on GitHub) and the REST routes (what apps do) call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.simulator.history import record_push
from app.simulator.model import CheckRun, Comment, Issue, Pull, Repo, Review
from app.simulator.world import World, blob_sha

# GitHub lists at most this many commits and files of a pull request.
MAX_PULL_COMMITS = 250
MAX_PULL_FILES = 3000


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str  # added | modified | removed | renamed
    previous_filename: str | None
    sha: str | None
    additions: int
    deletions: int


def apply_commits(
    world: World,
    parent: str,
    commits: list[dict[str, Any]],
    default_author: str,
) -> list[str]:
    """Commit each `{"files", "author", "committer", "message"}` in turn; returns shas."""
    shas: list[str] = []
    for number, spec in enumerate(commits, 1):
        author = spec.get("author", default_author)
        commit = world.add_commit(
            parent,
            spec.get("files", {}),
            author=author,
            committer=spec.get("committer", author),
            message=spec.get("message", f"Change {number}"),
            author_identity=_identity(spec.get("author_identity")),
            committer_identity=_identity(spec.get("committer_identity")),
        )
        parent = commit.sha
        shas.append(commit.sha)
    return shas


def _identity(value: Any) -> tuple[str, str] | None:
    return (str(value[0]), str(value[1])) if value else None


def open_pull(
    world: World,
    repo: Repo,
    *,
    author: str,
    head_ref: str,
    commits: list[dict[str, Any]],
    title: str,
    body: str = "",
    base: str | None = None,
    labels: list[str] | None = None,
    draft: bool = False,
    renames: dict[str, str] | None = None,
) -> Pull:
    with world.lock:
        world.add_user(author)
        base_ref = base or repo.default_branch
        base_sha = repo.branches[base_ref]
        shas = apply_commits(world, base_sha, commits, author)
        record_push(world, repo, head_ref, repo.branches.get(head_ref), shas[-1], author)
        repo.branches[head_ref] = shas[-1]
        now = world.now()
        pull = Pull(
            number=repo.next_number,
            id=world.next_id(),
            title=title,
            body=body,
            author=author,
            head_ref=head_ref,
            head_sha=shas[-1],
            base_ref=base_ref,
            base_sha=base_sha,
            commits=shas,
            labels=list(labels or []),
            draft=draft,
            created_at=now,
            updated_at=now,
            renames={new: old for old, new in (renames or {}).items()},
        )
        repo.next_number += 1
        repo.pulls[pull.number] = pull
        return pull


def open_pull_from_branch(
    world: World, repo: Repo, *, author: str, head_ref: str, title: str, base: str | None = None
) -> Pull:
    """A pull request from an existing branch, as `POST /pulls` with `head` opens one: its
    commits are those on the head that the base lacks (none: GitHub refuses, 422). Any
    number of pull requests may share a head branch, each into its own base (a second
    open one for the same head and base: 422)."""
    with world.lock:
        world.add_user(author)
        base_ref = base or repo.default_branch
        for other in repo.pulls.values():
            if (other.state, other.head_ref, other.base_ref) == ("open", head_ref, base_ref):
                raise ValueError(f"A pull request already exists for {head_ref}")
        base_sha, head_sha = repo.branches[base_ref], repo.branches[head_ref]
        on_base, pending = set(), [base_sha]
        while pending:
            sha = pending.pop()
            if sha not in on_base:
                on_base.add(sha)
                pending.extend(world.commits[sha].parents)
        shas, pending = [], [head_sha]
        while pending:
            sha = pending.pop()
            if sha not in on_base and sha not in shas:
                shas.append(sha)
                pending.extend(world.commits[sha].parents)
        if not shas:
            raise ValueError(f"No commits between {base_ref} and {head_ref}")
        now = world.now()
        pull = Pull(
            number=repo.next_number,
            id=world.next_id(),
            title=title,
            body="",
            author=author,
            head_ref=head_ref,
            head_sha=head_sha,
            base_ref=base_ref,
            base_sha=base_sha,
            commits=shas[::-1],  # oldest first
            labels=[],
            draft=False,
            created_at=now,
            updated_at=now,
        )
        repo.next_number += 1
        repo.pulls[pull.number] = pull
        return pull


def close_pull(world: World, pull: Pull) -> None:
    """Close without merging."""
    with world.lock:
        now = world.now()
        pull.state, pull.closed_at, pull.updated_at = "closed", now, now


def push_to_pull(
    world: World,
    repo: Repo,
    pull: Pull,
    commits: list[dict[str, Any]],
    author: str,
    renames: dict[str, str] | None = None,
) -> str:
    with world.lock:
        shas = apply_commits(world, pull.head_sha, commits, author)
        record_push(world, repo, pull.head_ref, pull.head_sha, shas[-1], author)
        # A push moves the branch: every open pull request from it follows.
        for other in sharing_head_branch(repo, pull):
            other.commits.extend(shas)
            other.head_sha = shas[-1]
            other.updated_at = world.now()
        pull.renames.update({new: old for old, new in (renames or {}).items()})
        repo.branches[pull.head_ref] = pull.head_sha
        return pull.head_sha


def sharing_head_branch(repo: Repo, pull: Pull) -> list[Pull]:
    """`pull` and every other open pull request from its head branch."""
    return [pull] + [
        other
        for other in repo.pulls.values()
        if other is not pull and other.state == "open" and other.head_ref == pull.head_ref
    ]


def pull_files(world: World, pull: Pull) -> list[FileChange]:
    """What the pull request changes against its merge base, sorted like GitHub."""
    with world.lock:
        base = world.commits[pull.base_sha].tree
        head = world.commits[pull.head_sha].tree
    changes: list[FileChange] = []
    renamed_from = {new: old for new, old in pull.renames.items() if old in base and new in head}
    for path in sorted(set(base) | set(head)):
        if path in renamed_from.values() and path not in head:
            continue
        old_path = renamed_from.get(path)
        before = base.get(old_path or path)
        after = head.get(path)
        if before == after and old_path is None:
            continue
        before_lines = before.count("\n") + 1 if before else 0
        after_lines = after.count("\n") + 1 if after else 0
        if old_path:
            status = "renamed"
        elif before is None:
            status = "added"
        elif after is None:
            status = "removed"
        else:
            status = "modified"
        changes.append(
            FileChange(
                filename=path,
                status=status,
                previous_filename=old_path,
                sha=blob_sha(after) if after is not None else None,
                additions=after_lines if before != after else 0,
                deletions=before_lines if before != after else 0,
            )
        )
    return changes


def find_pull(repo: Repo, number: int) -> Pull | None:
    return repo.pulls.get(number)


def add_review(
    world: World, pull: Pull, reviewer: str, state: str, commit_id: str | None, body: str
) -> Review:
    with world.lock:
        world.add_user(reviewer)
        review = Review(
            id=world.next_id(),
            user=reviewer,
            state=state,
            commit_id=commit_id or pull.head_sha,
            body=body,
            submitted_at=world.now(),
        )
        pull.reviews.append(review)
        # A review answers the request: GitHub takes the reviewer off the requested list.
        if reviewer in pull.requested_reviewers:
            pull.requested_reviewers.remove(reviewer)
        pull.updated_at = review.submitted_at  # GitHub bumps the pull request's updated_at
        return review


def merge_pull(world: World, repo: Repo, pull: Pull, merged_by: str) -> str:
    """Merge onto the base branch (a merge commit with the head's tree); its sha."""
    with world.lock:
        base_sha = repo.branches[pull.base_ref]
        head = world.commits[pull.head_sha]
        merge = world.add_commit(
            base_sha,
            {},
            author=merged_by,
            message=f"Merge pull request #{pull.number} from {repo.owner}/{pull.head_ref}",
            parents=[base_sha, pull.head_sha],
        )
        merge.tree = dict(head.tree)
        record_push(world, repo, pull.base_ref, base_sha, merge.sha, merged_by, merge=True)
        repo.branches[pull.base_ref] = merge.sha
        now = world.now()
        pull.state, pull.merged, pull.merged_by = "closed", True, merged_by
        pull.merge_commit_sha, pull.closed_at, pull.updated_at = merge.sha, now, now
        return merge.sha


def open_issue(
    world: World,
    repo: Repo,
    author: str,
    title: str,
    body: str = "",
    labels: list[str] | None = None,
    assignees: list[str] | None = None,
) -> Issue:
    with world.lock:
        world.add_user(author)
        now = world.now()
        issue = Issue(
            number=repo.next_number,
            id=world.next_id(),
            title=title,
            body=body,
            author=author,
            labels=list(labels or []),
            assignees=list(assignees or []),
            created_at=now,
            updated_at=now,
        )
        repo.next_number += 1
        repo.issues[issue.number] = issue
        return issue


def add_comment(world: World, repo: Repo, number: int, login: str, body: str) -> Comment:
    with world.lock:
        world.add_user(login)
        now = world.now()
        comment = Comment(world.next_id(), number, login, body, now, now)
        repo.comments.append(comment)
        return comment


def create_check_run(world: World, repo: Repo, app_id: int, fields: dict[str, Any]) -> CheckRun:
    with world.lock:
        run = CheckRun(
            id=world.next_id(),
            repo=repo.full_name.lower(),
            name=fields["name"],
            head_sha=fields["head_sha"],
            app_id=app_id,
            status="queued",
            conclusion=None,
            output={},
            details_url=None,
            external_id="",
            started_at=world.now(),
            completed_at=None,
        )
        world.check_runs[run.id] = run
        update_check_run(world, run, fields)
        return run


def update_check_run(world: World, run: CheckRun, fields: dict[str, Any]) -> None:
    """Apply a create/update body the way GitHub does (a conclusion completes the run)."""
    with world.lock:
        for key in ("name", "details_url", "external_id", "status", "actions"):
            if key in fields:
                setattr(run, key, fields[key])
        if "output" in fields:
            run.output = {**run.output, **fields["output"]}
        if fields.get("conclusion"):
            run.conclusion, run.status = fields["conclusion"], "completed"
        if run.status == "completed":
            run.completed_at = world.now()
        elif "status" in fields:
            run.conclusion, run.completed_at = None, None
