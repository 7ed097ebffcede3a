"""Webhook payloads: GitHub's webhook examples patched with the world's state."""

from __future__ import annotations

from typing import Any

from app.simulator import examples, render
from app.simulator.model import CheckRun, Comment, Commit, Installation, Issue, Pull, Repo, Review
from app.simulator.world import World


def envelope(
    world: World, key: str, installation: Installation | None, repo: Repo | None, sender: str
) -> dict[str, Any]:
    """The example `key` with its installation, repository, organization and sender."""
    payload = examples.webhook(key)
    if installation is None:
        payload.pop("installation", None)
    else:
        node = render.node_id("Integration", installation.id)
        payload["installation"] = {"id": installation.id, "node_id": node}
    if repo is not None:
        payload["repository"] = render.repository(world, repo, payload["repository"])
        owner = world.user(repo.owner)
        if "organization" in payload and owner is not None and owner.type == "Organization":
            payload["organization"] = render.organization(
                world, repo.owner, payload["organization"]
            )
        else:
            payload.pop("organization", None)
    payload["sender"] = render.user(world, sender, payload["sender"])
    return payload


def installation_event(
    world: World, installation: Installation, action: str, sender: str
) -> dict[str, Any]:
    key = f"installation.{action}"
    payload = envelope(world, key, None, None, sender)
    template = examples.webhook(key)["installation"]
    payload["installation"] = render.installation(world, installation, template)
    payload["repositories"] = [
        {
            "id": repo.id,
            "node_id": render.node_id("R", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
        }
        for repo in world.installation_repos(installation)
    ]
    payload["requester"] = None
    return payload


def pull_request_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    pull: Pull,
    action: str,
    sender: str,
    **extra: Any,
) -> dict[str, Any]:
    payload = envelope(world, f"pull_request.{action}", installation, repo, sender)
    payload["number"] = pull.number
    payload["pull_request"] = render.pull(world, repo, pull, payload["pull_request"])
    if "label" in extra:
        payload["label"] = render.label(world, repo, extra.pop("label"), payload["label"])
    payload.update(extra)
    return payload


def review_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    pull: Pull,
    review: Review,
    action: str,
    sender: str,
) -> dict[str, Any]:
    payload = envelope(world, f"pull_request_review.{action}", installation, repo, sender)
    payload["pull_request"] = render.pull(world, repo, pull, payload["pull_request"])
    payload["review"] = render.review(world, repo, pull, review, payload["review"])
    # Webhooks spell review states in lower case, the REST API in upper case.
    payload["review"]["state"] = review.state.lower()
    return payload


def push_commit(world: World, repo: Repo, commit: Commit) -> dict[str, Any]:
    """A commit as push payloads list it, with the paths it adds, removes and modifies."""
    before = world.commits[commit.parents[0]].tree if commit.parents else {}
    after = commit.tree

    def person(login: str | None, identity: tuple[str, str] | None) -> dict[str, Any]:
        name = login or "Someone"
        name, email = identity or (name, f"{name}@users.noreply.simulator")
        found = {"username": login} if login else {}
        return {"name": name, "email": email, **found}

    return {
        "id": commit.sha,
        "tree_id": commit.sha[::-1],
        "distinct": True,
        "message": commit.message,
        "timestamp": render.iso(commit.created_at),
        "url": f"{world.base_url.rstrip('/')}/{repo.full_name}/commit/{commit.sha}",
        "author": person(commit.author, commit.author_identity),
        "committer": person(commit.committer, commit.committer_identity),
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "modified": sorted(p for p in set(before) & set(after) if before[p] != after[p]),
    }


def push_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    branch: str,
    before: str,
    commits: list[Commit],
    pusher: str,
) -> dict[str, Any]:
    payload = envelope(world, "push", installation, repo, pusher)
    after = commits[-1].sha if commits else before
    listed = [push_commit(world, repo, commit) for commit in commits]
    base = world.base_url.rstrip("/")
    payload.update(ref=f"refs/heads/{branch}", before=before, after=after, base_ref=None)
    payload.update(created=False, deleted=False, forced=False, commits=listed)
    payload["head_commit"] = listed[-1] if listed else None
    payload["compare"] = f"{base}/{repo.full_name}/compare/{before[:12]}...{after[:12]}"
    payload["pusher"] = {"name": pusher, "email": f"{pusher}@users.noreply.simulator"}
    return payload


def issue_comment_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    issue: Issue | Pull,
    comment: Comment,
) -> dict[str, Any]:
    payload = envelope(world, "issue_comment.created", installation, repo, comment.user)
    payload["issue"] = render.issue(world, repo, issue, payload["issue"])
    payload["comment"] = render.comment(world, repo, comment, payload["comment"])
    return payload


def check_run_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    run: CheckRun,
    action: str,
    sender: str,
    **extra: Any,
) -> dict[str, Any]:
    payload = envelope(world, f"check_run.{action}", installation, repo, sender)
    check = render.check_run(world, run, payload["check_run"])
    suite = check["check_suite"]
    branch = next((n for n, sha in repo.branches.items() if sha == run.head_sha), None)
    suite.update(head_sha=run.head_sha, head_branch=branch, pull_requests=check["pull_requests"])
    suite.update(status=run.status, conclusion=run.conclusion)
    suite["url"] = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}/check-suites/{suite['id']}"
    payload["check_run"] = check
    payload.update(extra)
    return payload


def merge_group_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    head: Commit,
    head_ref: str,
    base_ref: str,
    sender: str,
) -> dict[str, Any]:
    payload = envelope(world, "merge_group.checks_requested", installation, repo, sender)
    author = {"name": sender, "email": f"{sender}@users.noreply.simulator"}
    payload["merge_group"] = {
        "head_sha": head.sha,
        "head_ref": f"refs/heads/{head_ref}",
        "base_sha": head.parents[0],
        "base_ref": f"refs/heads/{base_ref}",
        "head_commit": {
            "id": head.sha,
            "tree_id": head.sha[::-1],
            "message": head.message,
            "timestamp": render.iso(head.created_at),
            "author": author,
            "committer": author,
        },
    }
    return payload


def issues_event(
    world: World,
    installation: Installation | None,
    repo: Repo,
    issue: Issue,
    action: str,
    sender: str,
    **extra: Any,
) -> dict[str, Any]:
    """`issues.<action>`; `edited` carries `changes` (`{"title": {"from": ...}}`...)."""
    payload = envelope(world, f"issues.{action}", installation, repo, sender)
    payload["issue"] = render.issue(world, repo, issue, payload["issue"])
    payload.update(extra)
    return payload
