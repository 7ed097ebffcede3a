"""GitHub's JSON objects, built from GitHub's own examples patched with the world's state.

Every function takes an optional `template`: a REST response uses the REST example, a
webhook payload passes the object from its webhook example, so each shape stays exactly
GitHub's while ids, logins, shas, refs, numbers and URLs are the simulator's.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from app.simulator import examples
from app.simulator.model import App, CheckRun, Comment, Commit, Installation, Issue, Pull, Repo
from app.simulator.model import Review as ReviewRecord
from app.simulator.repos import FileChange, pull_files
from app.simulator.world import World

API = "https://api.github.com"
RAW = "https://raw.githubusercontent.com"
WEB = "https://github.com"
LEGACY_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write"}
LEGACY_PERMISSION.update(triage="read", read="read")


def iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{kind}{number}".encode()).decode()


def swap(value: Any, pairs: list[tuple[str, str]]) -> Any:
    """Replace substrings in every string of a JSON value (URLs, full names)."""
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {key: swap(item, pairs) for key, item in value.items()}
    if isinstance(value, list):
        return [swap(item, pairs) for item in value]
    return value


def rebase(world: World, value: Any, pairs: list[tuple[str, str]] = ()) -> Any:
    """`swap` the given pairs, then point every GitHub URL at the simulator."""
    base = world.base_url.rstrip("/")
    return swap(value, [*pairs, (API, base), (RAW, f"{base}/raw"), (WEB, base)])


def user(world: World, login: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    record = world.add_user(login)
    t = template if template is not None else examples.rest("simple-user")
    old = t["login"]
    t = rebase(world, t, [(f"/users/{old}", f"/users/{login}"), (f"{WEB}/{old}", f"{WEB}/{login}")])
    t.update(login=record.login, id=record.id, node_id=node_id("U", record.id), type=record.type)
    t["site_admin"] = False
    return t


def organization(world: World, login: str, template: dict[str, Any]) -> dict[str, Any]:
    record = world.add_user(login)
    t = rebase(world, template, [(f"/orgs/{template['login']}", f"/orgs/{login}")])
    t.update(login=record.login, id=record.id, node_id=node_id("O", record.id))
    return t


def repository(
    world: World, repo: Repo, template: dict[str, Any] | None = None, full: bool = False
) -> dict[str, Any]:
    if template is None:
        template = (
            examples.rest("full-repository-default-response")
            if full
            else examples.rest("repository-paginated-2")["repositories"][0]
        )
    t = rebase(world, template, [(template["full_name"], repo.full_name)])
    owner = world.user(repo.owner)
    t.update(id=repo.id, node_id=node_id("R", repo.id), name=repo.name, full_name=repo.full_name)
    t.update(owner=user(world, repo.owner, t["owner"]), private=repo.private, fork=False)
    t.update(default_branch=repo.default_branch, archived=False, disabled=False)
    t["visibility"] = "private" if repo.private else "public"
    # The examples leave out some fields that GitHub always sends (githubkit requires them).
    t.setdefault("language", None)
    for key in ("parent", "source", "template_repository"):
        t.pop(key, None)
    if "organization" in t or full:
        if owner is not None and owner.type == "Organization":
            t["organization"] = user(world, repo.owner, t.get("organization"))
        else:
            t.pop("organization", None)
    return t


def app(world: World, record: App, template: dict[str, Any] | None = None) -> dict[str, Any]:
    t = template if template is not None else examples.rest("integration")
    t = rebase(world, t, [(f"/apps/{t.get('slug', '')}", f"/apps/{record.slug}")])
    t.update(id=record.id, slug=record.slug, name=record.name, client_id=record.client_id)
    t.update(node_id=node_id("A", record.id), owner=user(world, record.owner, t.get("owner")))
    t.update(permissions=dict(record.permissions), events=list(record.events))
    t.update(created_at=iso(record.created_at), updated_at=iso(record.created_at))
    t["description"] = t.get("description") or ""
    return t


def installation(
    world: World, record: Installation, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("installation")
    base = world.base_url.rstrip("/")
    owner = world.add_user(record.account)
    app_record = world.apps[record.app_id]
    t = rebase(world, t)
    t.update(id=record.id, app_id=record.app_id, app_slug=app_record.slug, target_id=owner.id)
    t.update(account=user(world, record.account, t.get("account")), target_type=owner.type)
    t["client_id"] = app_record.client_id
    t["repository_selection"] = "all" if record.repositories is None else "selected"
    t["access_tokens_url"] = f"{base}/app/installations/{record.id}/access_tokens"
    t["html_url"] = f"{base}/organizations/{record.account}/settings/installations/{record.id}"
    t.update(permissions=dict(record.permissions), events=list(record.events))
    t.update(created_at=iso(record.created_at), updated_at=iso(record.created_at))
    t.update(suspended_at=None, suspended_by=None, single_file_name=None)
    t.pop("single_file_paths", None)
    t.pop("has_multiple_single_files", None)
    return t


def label(world: World, repo: Repo, name: str, template: dict[str, Any]) -> dict[str, Any]:
    number = int(hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8], 16)
    t = dict(template)
    t.update(id=number, node_id=node_id("L", number), name=name, default=False)
    t["url"] = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}/labels/{name}"
    t.update(color="ededed", description=None, archived_at=None, archived_by=None)
    return t


def _branch(world: World, repo: Repo, ref: str, sha: str, t: dict[str, Any]) -> dict[str, Any]:
    t.update(label=f"{repo.owner}:{ref}", ref=ref, sha=sha, user=user(world, repo.owner, t["user"]))
    t["repo"] = repository(world, repo, t["repo"])
    return t


def _put(t: dict[str, Any], **values: Any) -> None:
    """Set only keys the template has: the simple and the webhook shapes omit some."""
    for key, value in values.items():
        if key in t:
            t[key] = value


def pull(
    world: World, repo: Repo, record: Pull, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("pull-request")
    old_full, old = t["base"]["repo"]["full_name"], t["number"]
    n = record.number
    t = rebase(
        world,
        t,
        [
            (f"{old_full}/pulls/{old}", f"{repo.full_name}/pulls/{n}"),
            (f"{old_full}/issues/{old}", f"{repo.full_name}/issues/{n}"),
            (f"{old_full}/pull/{old}", f"{repo.full_name}/pull/{n}"),
            (f"/statuses/{t['head']['sha']}", f"/statuses/{record.head_sha}"),
            (old_full, repo.full_name),
        ],
    )
    label_template = (t.get("labels") or examples.rest("pull-request")["labels"])[0]
    t.update(id=record.id, node_id=node_id("PR", record.id), number=n, state=record.state)
    t.update(title=record.title, body=record.body, user=user(world, record.author, t["user"]))
    t["labels"] = [label(world, repo, name, label_template) for name in record.labels]
    t.update(locked=False, active_lock_reason=None, milestone=None, auto_merge=None)
    assignees = [user(world, login, t["user"]) for login in record.assignees]
    t.update(assignee=assignees[0] if assignees else None, assignees=assignees)
    reviewers = [user(world, login, t["user"]) for login in record.requested_reviewers]
    t.update(requested_reviewers=reviewers, requested_teams=[])
    t.update(created_at=iso(record.created_at), updated_at=iso(record.updated_at))
    t.update(closed_at=iso(record.closed_at), draft=record.draft)
    t["merged_at"] = iso(record.closed_at) if record.merged else None
    t["merge_commit_sha"] = record.merge_commit_sha
    t["author_association"] = association(world, repo, record.author)
    t["head"] = _branch(world, repo, record.head_ref, record.head_sha, t["head"])
    t["base"] = _branch(world, repo, record.base_ref, repo.branches[record.base_ref], t["base"])
    merged_by = user(world, record.merged_by, t.get("merged_by")) if record.merged_by else None
    _put(t, merged=record.merged, merged_by=merged_by, mergeable=True, rebaseable=True)
    _put(t, mergeable_state="clean", comments=0, review_comments=0, maintainer_can_modify=False)
    changes = pull_files(world, record)
    _put(t, commits=len(record.commits), changed_files=len(changes))
    _put(
        t, additions=sum(c.additions for c in changes), deletions=sum(c.deletions for c in changes)
    )
    return t


def association(world: World, repo: Repo, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    return "COLLABORATOR" if world.role(repo, login) else "CONTRIBUTOR"


def commit(world: World, repo: Repo, record: Commit) -> dict[str, Any]:
    t = examples.rest("commit-items")
    t = rebase(world, t, [(t["sha"], record.sha), ("octocat/Hello-World", repo.full_name)])
    t.update(sha=record.sha, node_id=node_id("C", int(record.sha[:8], 16)))
    for role in ("author", "committer"):
        login = getattr(record, role)
        t[role] = user(world, login, t[role]) if login else None
        name, email = getattr(record, f"{role}_identity") or (
            login or "Someone",
            f"{login or 'someone'}@users.noreply.simulator",
        )
        t["commit"][role] = {"name": name, "email": email, "date": iso(record.created_at)}
    t["commit"]["message"] = record.message
    t["commit"]["comment_count"] = 0
    t["commit"]["verification"] = {"verified": False, "reason": "unsigned", "signature": None}
    t["commit"]["verification"].update(payload=None, verified_at=None)
    parent_url = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}/commits/"
    t["parents"] = [
        {"sha": sha, "url": parent_url + sha, "html_url": parent_url + sha}
        for sha in record.parents
    ]
    return t


def file_change(world: World, repo: Repo, head_sha: str, change: FileChange) -> dict[str, Any]:
    t = examples.rest("diff-entry-items")
    t = rebase(world, t, [("octocat/Hello-World", repo.full_name)])
    t.update(filename=change.filename, status=change.status, sha=change.sha or "0" * 40)
    t.update(additions=change.additions, deletions=change.deletions)
    t["changes"] = change.additions + change.deletions
    base = f"{world.base_url.rstrip('/')}/repos/{repo.full_name}"
    t["blob_url"] = f"{base}/blob/{head_sha}/{change.filename}"
    t["raw_url"] = f"{base}/raw/{head_sha}/{change.filename}"
    t["contents_url"] = f"{base}/contents/{change.filename}?ref={head_sha}"
    if change.previous_filename:
        t["previous_filename"] = change.previous_filename
    return t


def review(
    world: World, repo: Repo, record: Pull, item: ReviewRecord, template: dict[str, Any] | None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("pull-request-review-items")
    old_number = t["pull_request_url"].rsplit("/", 1)[-1]
    old_full = t["pull_request_url"].split("/repos/", 1)[-1].rsplit("/pulls/", 1)[0]
    t = rebase(
        world,
        t,
        [
            (f"/pulls/{old_number}", f"/pulls/{record.number}"),
            (
                f"/pull/{old_number}#pullrequestreview-{t['id']}",
                f"/pull/{record.number}#r{item.id}",
            ),
            (old_full, repo.full_name),
        ],
    )
    t.update(id=item.id, node_id=node_id("PRR", item.id), user=user(world, item.user, t["user"]))
    t.update(body=item.body, state=item.state, commit_id=item.commit_id)
    t.update(submitted_at=iso(item.submitted_at))
    t["author_association"] = association(world, repo, item.user)
    return t


def check_run(
    world: World, run: CheckRun, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("check-run")
    repo = world.repo(run.repo)
    base = world.base_url.rstrip("/")
    t = rebase(world, t, [("github/hello-world", repo.full_name)])
    t.update(id=run.id, node_id=node_id("CR", run.id), name=run.name, head_sha=run.head_sha)
    t.update(status=run.status, conclusion=run.conclusion, external_id=run.external_id)
    # Without a details_url of its own, GitHub links the app's page.
    app_page = f"{base}/apps/{world.apps[run.app_id].slug}"
    t.update(details_url=run.details_url or app_page, started_at=iso(run.started_at))
    t["completed_at"] = iso(run.completed_at)
    t["url"] = f"{base}/repos/{repo.full_name}/check-runs/{run.id}"
    t["html_url"] = f"{base}/{repo.full_name}/runs/{run.id}"
    t["output"] = {
        "title": run.output.get("title"),
        "summary": run.output.get("summary"),
        "text": run.output.get("text"),
        "annotations_count": 0,
        "annotations_url": f"{t['url']}/annotations",
    }
    t["app"] = app(world, world.apps[run.app_id], t.get("app"))
    suite = t.get("check_suite") or {}
    suite["id"] = int(
        hashlib.sha1(run.head_sha.encode(), usedforsecurity=False).hexdigest()[:8], 16
    )
    if "app" in suite:
        suite["app"] = t["app"]
    t["check_suite"] = suite
    t["pull_requests"] = [
        pull_ref(world, repo, record)
        for record in repo.pulls.values()
        if record.head_sha == run.head_sha and record.state == "open"
    ]
    return t


def pull_ref(world: World, repo: Repo, record: Pull) -> dict[str, Any]:
    """The minimal pull request reference inside check runs and suites."""
    base = world.base_url.rstrip("/")
    repo_ref = {"id": repo.id, "url": f"{base}/repos/{repo.full_name}", "name": repo.name}
    return {
        "id": record.id,
        "number": record.number,
        "url": f"{base}/repos/{repo.full_name}/pulls/{record.number}",
        "head": {"ref": record.head_ref, "sha": record.head_sha, "repo": repo_ref},
        "base": {"ref": record.base_ref, "sha": repo.branches[record.base_ref], "repo": repo_ref},
    }


def issue(
    world: World, repo: Repo, record: Issue | Pull, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("issue")
    old = t["number"]
    old_full = t["repository_url"].split("/repos/", 1)[-1]
    t = rebase(
        world,
        t,
        [
            (f"/issues/{old}", f"/issues/{record.number}"),
            (f"/pull/{old}", f"/pull/{record.number}"),
            (f"/pulls/{old}", f"/pulls/{record.number}"),
            (old_full, repo.full_name),
        ],
    )
    label_template = examples.rest("pull-request")["labels"][0]
    is_pull = isinstance(record, Pull)
    t.update(id=record.id, node_id=node_id("I", record.id), number=record.number)
    t.update(title=record.title, body=record.body, state=record.state)
    t.update(user=user(world, record.author, t["user"]), locked=False, active_lock_reason=None)
    t["labels"] = [label(world, repo, name, label_template) for name in record.labels]
    assignees = [] if is_pull else record.assignees
    t["assignees"] = [user(world, login, t["user"]) for login in assignees]
    t["assignee"] = t["assignees"][0] if t["assignees"] else None
    t.update(milestone=None, closed_by=None, state_reason=getattr(record, "state_reason", None))
    t["comments"] = sum(1 for c in repo.comments if c.issue_number == record.number)
    t.update(created_at=iso(record.created_at), updated_at=iso(record.updated_at))
    t.update(closed_at=iso(record.closed_at))
    t["author_association"] = association(world, repo, record.author)
    if is_pull:
        base = world.base_url.rstrip("/")
        html = f"{base}/{repo.full_name}/pull/{record.number}"
        t["pull_request"] = {
            "url": f"{base}/repos/{repo.full_name}/pulls/{record.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": iso(record.closed_at) if record.merged else None,
        }
    else:
        t.pop("pull_request", None)
    t.pop("pinned_comment", None)
    return t


def comment(
    world: World, repo: Repo, record: Comment, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    t = template if template is not None else examples.rest("issue-comment")
    base = world.base_url.rstrip("/")
    t = rebase(world, t)
    t.update(id=record.id, node_id=node_id("IC", record.id), body=record.body)
    t.update(user=user(world, record.user, t["user"]))
    t.update(created_at=iso(record.created_at), updated_at=iso(record.updated_at))
    t["url"] = f"{base}/repos/{repo.full_name}/issues/comments/{record.id}"
    t["html_url"] = f"{base}/{repo.full_name}/issues/{record.issue_number}#issuecomment-{record.id}"
    t["issue_url"] = f"{base}/repos/{repo.full_name}/issues/{record.issue_number}"
    t["author_association"] = association(world, repo, record.user)
    return t
