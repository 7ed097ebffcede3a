"""The story API: what people do on GitHub, each step sending the matching webhook.

Every helper mutates the world under its lock, builds the payload for each app whose
installation sees the repository, then (lock released, since the app may call back)
delivers it to apps that have a webhook URL. Without one, the payload is only kept
in `last_payload` for the test to `deliver` itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from app.simulator import actions, payloads, render
from app.simulator.history import record_issue_event, record_push
from app.simulator.model import Delivery, Installation, Installed, Repo
from app.simulator.repos import (
    add_comment,
    add_review,
    close_pull,
    merge_pull,
    open_pull,
    open_pull_from_branch,
    pull_files,
    push_to_pull,
    sharing_head_branch,
)
from app.simulator.world import World

WEBHOOK_PATH = "/api/github/webhooks"
DELIVERY_TIMEOUT = 30.0
# Installation events go to the app whatever it subscribed to.
ALWAYS_SENT = ("installation", "installation_repositories")


def signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256` as GitHub computes it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Story:
    def __init__(self, world: World) -> None:
        self.world = world
        self.last_payload: dict[str, Any] | None = None
        self._deliveries: httpx.Client | None = None

    def _delivery_client(self) -> httpx.Client:
        """One HTTP client for every delivery: building one loads a TLS context, tens of
        milliseconds that GitHub does not spend per webhook and a benchmark would count
        against the app."""
        with self.world.lock:
            if self._deliveries is None:
                self._deliveries = httpx.Client(timeout=DELIVERY_TIMEOUT)
            return self._deliveries

    def close_deliveries(self) -> None:
        with self.world.lock:
            client, self._deliveries = self._deliveries, None
        if client is not None:
            client.close()

    # -- set-up (no webhooks) --------------------------------------------------------
    def add_repo(self, full_name: str, **options: Any) -> Repo:
        return self.world.add_repo(full_name, **options)

    def add_user(self, login: str, type: str = "User") -> None:
        self.world.add_user(login, type)

    def set_role(self, repo: str, login: str, role: str) -> None:
        self.world.set_role(repo, login, role)

    def add_team_member(self, team: str, login: str) -> None:
        self.world.add_team_member(team, login)

    def install(
        self,
        app_url: str | None = None,
        webhook_secret: str = "simulated-webhook-secret",  # noqa: S107 - a test double
        *,
        account: str = "acme",
        repositories: list[str] | None = None,
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
        slug: str = "foureyes",
        installer: str = "octo-admin",
    ) -> Installed:
        """Register the app and install it on `account`; sends `installation.created`."""
        app_id, private_key = self.world.add_app(
            slug,
            owner=account,
            permissions=permissions,
            events=events,
            webhook_secret=webhook_secret,
        )
        installation = self.world.add_installation(app_id, account, repositories)
        if app_url:
            self.configure_webhook(app_id, app_url)
        self._emit(
            "installation",
            None,
            lambda i: payloads.installation_event(self.world, installation, "created", installer),
            [installation],
        )
        return Installed(app_id, private_key, installation.id, webhook_secret)

    def configure_webhook(self, app_id: int, app_url: str, secret: str | None = None) -> None:
        """Point the app's webhook at `<app_url>/api/github/webhooks` (the app started late)."""
        with self.world.lock:
            app = self.world.apps[app_id]
            app.webhook_url = app_url.rstrip("/") + WEBHOOK_PATH
            if secret is not None:
                app.webhook_secret = secret

    # -- delivery --------------------------------------------------------------------
    def send_queued(self) -> None:
        """Send the webhooks that REST calls caused (`World.queue_webhook`), in order."""
        with self.world.lock:
            queued, self.world.outbox = self.world.outbox, []
        for event, repo, build in queued:
            self._emit(event, repo, build)

    def _emit(
        self,
        event: str,
        repo: Repo | None,
        build: Callable[[Installation | None], dict[str, Any]],
        targets: list[Installation] | None = None,
    ) -> dict[str, Any]:
        with self.world.lock:
            if targets is None:
                targets = self.world.installations_for(repo.full_name) if repo else []
            targets = [
                i
                for i in targets
                if event in ALWAYS_SENT or event in self.world.apps[i.app_id].events
            ]
            built = [(i.app_id, build(i)) for i in targets] or [(None, build(None))]
        self.last_payload = built[-1][1]
        for app_id, payload in built:
            app = self.world.apps.get(app_id) if app_id else None
            if app is not None and app.webhook_url:
                self.deliver(event, payload, app_id=app_id)
        return self.last_payload

    def deliver(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        app_id: int | None = None,
        guid: str | None = None,
    ) -> httpx.Response:
        """POST `payload` to the app's webhook URL, signed as GitHub signs it.

        The app is `app_id`, else the payload installation's app, else the only app.
        Pass `guid` to redeliver (GitHub keeps the delivery id). Recorded in
        `world.deliveries`, also when the app cannot be reached (status 0, re-raised).
        """
        with self.world.lock:
            installation_id = (payload.get("installation") or {}).get("id")
            if app_id is None and installation_id in self.world.installations:
                app_id = self.world.installations[installation_id].app_id
            if app_id is None and len(self.world.apps) == 1:
                app_id = next(iter(self.world.apps))
            app = self.world.apps.get(app_id or 0)
            if app is None or not app.webhook_url:
                raise ValueError("no app with a webhook URL to deliver to")
            url, secret = app.webhook_url, app.webhook_secret
        body = json.dumps(payload).encode()
        delivery_id = guid or str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/simulator",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": str(app.id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(app.id),
        }
        if secret:
            headers["X-Hub-Signature-256"] = signature(secret, body)
        started = time.monotonic()
        status = 0
        try:
            response = self._delivery_client().post(url, content=body, headers=headers)
            status = response.status_code
            return response
        finally:
            record = Delivery(
                guid=delivery_id,
                event=event,
                action=payload.get("action"),
                app_id=app.id,
                installation_id=installation_id,
                payload=payload,
                status_code=status,
                delivered_at=self.world.now(),
                duration=time.monotonic() - started,
                redelivery=guid is not None,
            )
            with self.world.lock:
                self.world.deliveries.append(record)

    # -- pull requests ---------------------------------------------------------------
    def open_pull_request(
        self,
        repo: str,
        *,
        author: str,
        head_ref: str | None = None,
        files: dict[str, str | None] | None = None,
        commits: list[dict[str, Any]] | None = None,
        labels: list[str] | None = None,
        title: str | None = None,
        body: str = "",
        base: str | None = None,
        draft: bool = False,
        renames: dict[str, str] | None = None,
        assignees: list[str] | None = None,
        reviewers: list[str] | None = None,
    ) -> int:
        """Open a pull request; `commits` are `{"files", "author", "committer", "message"}`
        (and `author_identity`/`committer_identity`: the git "Name", "email" as written).

        `files` (path -> content, None deletes) make one first commit by `author`;
        `renames` (old -> new path) makes those files show as renamed. Sends
        `pull_request.opened`; returns the number.
        """
        record = self.world.repo(repo)
        with self.world.lock:
            number = record.next_number
            specs = list(commits or [])
            if files or not specs:
                moved = {
                    new: self.world.resolve(record, base).tree.get(old)
                    for old, new in (renames or {}).items()
                }
                first = {**moved, **{old: None for old in renames or {}}, **(files or {})}
                specs.insert(0, {"files": first, "message": title or f"Change {number}"})
            pull = open_pull(
                self.world,
                record,
                author=author,
                head_ref=head_ref or f"change-{number}",
                commits=specs,
                title=title or f"Change {number}",
                body=body,
                base=base,
                labels=labels,
                draft=draft,
                renames=renames,
            )
            for login in [*(assignees or ()), *(reviewers or ())]:
                self.world.add_user(login)
            pull.assignees = list(assignees or ())
            pull.requested_reviewers = list(reviewers or ())
            for login in pull.assignees:
                record_issue_event(
                    self.world,
                    record,
                    pull.number,
                    "assigned",
                    author,
                    assignee=render.user(self.world, login),
                    assigner=render.user(self.world, author),
                )
        self._emit(
            "pull_request",
            record,
            lambda i: payloads.pull_request_event(self.world, i, record, pull, "opened", author),
        )
        return pull.number

    def open_pull_request_from(
        self, repo: str, *, author: str, head_ref: str, base: str | None = None
    ) -> int:
        """Open a pull request from the existing branch `head_ref` (its head commit as
        it stands) into `base`; sends `pull_request.opened`; returns the number."""
        record = self.world.repo(repo)
        pull = open_pull_from_branch(
            self.world,
            record,
            author=author,
            head_ref=head_ref,
            title=f"From {head_ref}",
            base=base,
        )
        self._emit(
            "pull_request",
            record,
            lambda i: payloads.pull_request_event(self.world, i, record, pull, "opened", author),
        )
        return pull.number

    def close(self, repo: str, number: int, *, sender: str) -> None:
        """Close without merging: sends `pull_request.closed` (`merged: false`)."""
        record = self.world.repo(repo)
        pull = record.pulls[number]
        close_pull(self.world, pull)
        self._emit(
            "pull_request",
            record,
            lambda i: payloads.pull_request_event(self.world, i, record, pull, "closed", sender),
        )

    def push(
        self,
        repo: str,
        number: int,
        *,
        author: str,
        files: dict[str, str | None] | None = None,
        commits: list[dict[str, Any]] | None = None,
        message: str = "More changes",
        committer: str | None = None,
    ) -> str:
        """Push commits to the pull request's branch; sends `pull_request.synchronize`."""
        record = self.world.repo(repo)
        with self.world.lock:
            pull = record.pulls[number]
            before = pull.head_sha
            specs = list(commits or [])
            if files or not specs:
                spec = {"files": files or {}, "message": message, "author": author}
                specs.insert(0, {**spec, "committer": committer or author})
            moved = sharing_head_branch(record, pull)
            after = push_to_pull(self.world, record, pull, specs, author)
        for each in moved:  # GitHub synchronizes every open pull request from the branch
            self._emit(
                "pull_request",
                record,
                lambda i, each=each: payloads.pull_request_event(
                    self.world, i, record, each, "synchronize", author, before=before, after=after
                ),
            )
        return after

    def review(
        self,
        repo: str,
        number: int,
        reviewer: str,
        state: str = "APPROVED",
        commit_id: str | None = None,
        body: str = "",
    ) -> int:
        """Submit a review (of the head, or of `commit_id`); returns the review id."""
        record = self.world.repo(repo)
        with self.world.lock:
            pull = record.pulls[number]
            review = add_review(self.world, pull, reviewer, state.upper(), commit_id, body)
        self._emit(
            "pull_request_review",
            record,
            lambda i: payloads.review_event(
                self.world, i, record, pull, review, "submitted", reviewer
            ),
        )
        return review.id

    def assign(self, repo: str, number: int, login: str, *, sender: str) -> None:
        """`sender` assigns the pull request to `login`; sends `pull_request.assigned`."""
        self._pull_change(repo, number, "assigned", sender, assignee=login)

    def unassign(self, repo: str, number: int, login: str, *, sender: str) -> None:
        """`sender` takes `login` off the assignees; sends `pull_request.unassigned`."""
        self._pull_change(repo, number, "unassigned", sender, assignee=login)

    def request_review(self, repo: str, number: int, login: str, *, sender: str) -> None:
        """`sender` asks `login` to review; sends `pull_request.review_requested`."""
        self._pull_change(repo, number, "review_requested", sender, requested_reviewer=login)

    def edit_body(self, repo: str, number: int, body: str, *, sender: str) -> None:
        """`sender` rewrites the description; sends `pull_request.edited` (changes.body)."""
        self._pull_change(repo, number, "edited", sender, body=body)

    def _pull_change(self, repo: str, number: int, action: str, sender: str, **what: str) -> None:
        record = self.world.repo(repo)
        extra: dict[str, Any] = {}
        with self.world.lock:
            pull = record.pulls[number]
            self.world.add_user(sender)
            # GitHub records each as an issue event naming who did it, and whom.
            who = {"assignee": "assigner", "requested_reviewer": "review_requester"}
            for role in who.keys() & what.keys():
                login = what[role]
                self.world.add_user(login)
                listed = pull.assignees if role == "assignee" else pull.requested_reviewers
                if action == "unassigned" and login in listed:
                    listed.remove(login)
                elif action != "unassigned" and login not in listed:
                    listed.append(login)
                extra[role] = render.user(self.world, login)
                actor = {who[role]: render.user(self.world, sender)}
                record_issue_event(
                    self.world, record, number, action, sender, **{role: extra[role]}, **actor
                )
            if "body" in what:
                extra["changes"] = {"body": {"from": pull.body}}
                pull.body = what["body"]
            pull.updated_at = self.world.now()
        self._emit(
            "pull_request",
            record,
            lambda i: payloads.pull_request_event(
                self.world, i, record, pull, action, sender, **extra
            ),
        )

    def dismiss_review(self, repo: str, number: int, review_id: int, *, sender: str) -> None:
        record = self.world.repo(repo)
        with self.world.lock:
            pull = record.pulls[number]
            review = next(r for r in pull.reviews if r.id == review_id)
            dismissed = {"state": review.state.lower(), "review_id": review.id}
            dismissed.update(dismissal_message="Dismissed", dismissal_commit_id=pull.head_sha)
            record_issue_event(
                self.world, record, number, "review_dismissed", sender, dismissed_review=dismissed
            )
            review.state = "DISMISSED"
        self._emit(
            "pull_request_review",
            record,
            lambda i: payloads.review_event(
                self.world, i, record, pull, review, "dismissed", sender
            ),
        )

    def label(
        self, repo: str, number: int, name: str, *, sender: str, remove: bool = False
    ) -> None:
        """Add (or with `remove`, take off) a label; sends `labeled`/`unlabeled`."""
        record = self.world.repo(repo)
        with self.world.lock:
            pull = record.pulls[number]
            if remove:
                pull.labels = [x for x in pull.labels if x != name]
            elif name not in pull.labels:
                pull.labels.append(name)
            pull.updated_at = self.world.now()
        action = "unlabeled" if remove else "labeled"
        self._emit(
            "pull_request",
            record,
            lambda i: payloads.pull_request_event(
                self.world, i, record, pull, action, sender, label=name
            ),
        )

    def merge(self, repo: str, number: int, *, merged_by: str) -> str:
        """Merge: sends `pull_request.closed` (merged) and a `push` to the base branch."""
        record = self.world.repo(repo)
        with self.world.lock:
            pull = record.pulls[number]
            before = record.branches[pull.base_ref]
            sha = merge_pull(self.world, record, pull, merged_by)
        self._emit(
            "pull_request",
            record,
            lambda i: payloads.pull_request_event(self.world, i, record, pull, "closed", merged_by),
        )
        commits = [self.world.commits[sha]]
        self._emit(
            "push",
            record,
            lambda i: payloads.push_event(
                self.world, i, record, pull.base_ref, before, commits, merged_by
            ),
        )
        return sha

    # -- branches, comments, checks, merge queue -------------------------------------
    def push_default_branch(
        self, repo: str, files: dict[str, str | None], *, pusher: str, message: str = "Update"
    ) -> str:
        """Commit `files` straight to the default branch; sends `push`. Returns the sha."""
        record = self.world.repo(repo)
        with self.world.lock:
            before = record.branches[record.default_branch]
            commit = self.world.add_commit(before, files, author=pusher, message=message)
            record_push(self.world, record, record.default_branch, before, commit.sha, pusher)
            record.branches[record.default_branch] = commit.sha
        self._emit(
            "push",
            record,
            lambda i: payloads.push_event(
                self.world, i, record, record.default_branch, before, [commit], pusher
            ),
        )
        return commit.sha

    def comment(self, repo: str, issue_number: int, login: str, body: str) -> int:
        """Comment on an issue or pull request; sends `issue_comment.created`."""
        record = self.world.repo(repo)
        with self.world.lock:
            target = record.issues.get(issue_number) or record.pulls[issue_number]
            comment = add_comment(self.world, record, issue_number, login, body)
        self._emit(
            "issue_comment",
            record,
            lambda i: payloads.issue_comment_event(self.world, i, record, target, comment),
        )
        return comment.id

    def rerequest_check(self, repo: str, check_run_id: int, *, sender: str) -> None:
        """A person clicks "Re-run" on a check run; sends `check_run.rerequested`."""
        record = self.world.repo(repo)
        run = self.world.check_runs[check_run_id]
        self._emit(
            "check_run",
            record,
            lambda i: payloads.check_run_event(self.world, i, record, run, "rerequested", sender),
        )

    def merge_group(self, repo: str, numbers: list[int], *, sender: str | None = None) -> str:
        """Queue pull requests; sends `merge_group.checks_requested`. Returns its head sha."""
        record = self.world.repo(repo)
        with self.world.lock:
            pulls = [record.pulls[n] for n in numbers]
            base_ref = pulls[0].base_ref
            base_sha = record.branches[base_ref]
            changed: dict[str, str | None] = {}
            for pull in pulls:
                head_tree = self.world.commits[pull.head_sha].tree
                for change in pull_files(self.world, pull):
                    changed[change.filename] = head_tree.get(change.filename)
                    if change.previous_filename:
                        changed[change.previous_filename] = None
            head = self.world.add_commit(
                base_sha,
                changed,
                author=sender or pulls[0].author,
                message="Merge queue: " + ", ".join(f"#{p.number}" for p in pulls),
                parents=[base_sha, *(p.head_sha for p in pulls)],
            )
            head_ref = f"gh-readonly-queue/{base_ref}/pr-{numbers[-1]}-{base_sha}"
            record.branches[head_ref] = head.sha
        who = sender or pulls[0].author
        self._emit(
            "merge_group",
            record,
            lambda i: payloads.merge_group_event(
                self.world, i, record, head, head_ref, base_ref, who
            ),
        )
        return head.sha

    # -- actions, deployments, branches ----------------------------------------------
    def protect_branch(self, repo: str, branch: str) -> None:
        """Mark `branch` protected (`GET /branches/{branch}` then says so)."""
        with self.world.lock:
            actions.actions(self.world).protected.add((repo.lower(), branch))

    def push_branch(
        self,
        repo: str,
        branch: str,
        files: dict[str, str | None],
        *,
        pusher: str,
        author: str | None = None,
        forced: bool = False,
        message: str = "Update",
    ) -> str:
        """Push one commit to `branch` (created from the default branch when new); sends
        `push` with `pusher` as sender. `forced` rewrites the branch: the new commit
        replaces the old head instead of following it. Returns the new head sha."""
        record = self.world.repo(repo)
        with self.world.lock:
            before = record.branches.get(branch)
            parent = before or record.branches[record.default_branch]
            if forced and before is not None:
                parents = self.world.commits[before].parents
                parent = parents[0] if parents else parent
            commit = self.world.add_commit(
                parent, files, author=author or pusher, committer=pusher, message=message
            )
            record_push(self.world, record, branch, before, commit.sha, pusher, forced=forced)
            record.branches[branch] = commit.sha
        created = before is None

        def build(i: Installation | None) -> dict[str, Any]:
            payload = payloads.push_event(
                self.world, i, record, branch, before or "0" * 40, [commit], pusher
            )
            payload.update(forced=forced, created=created)
            return payload

        self._emit("push", record, build)
        return commit.sha

    def workflow_run(
        self,
        repo: str,
        *,
        head_branch: str,
        actor: str,
        triggering_actor: str | None = None,
        event: str = "push",
        pull_number: int | None = None,
        name: str = "CI",
        path: str = ".github/workflows/ci.yml",
    ) -> int:
        """Start a workflow run on the head of `head_branch`; sends `workflow_run.requested`."""
        record = self.world.repo(repo)
        with self.world.lock:
            state = actions.actions(self.world)
            run = actions.WorkflowRun(
                id=self.world.next_id(),
                repo=record.full_name.lower(),
                name=name,
                path=path,
                head_branch=head_branch,
                head_sha=record.branches[head_branch],
                event=event,
                actor=actor,
                triggering_actor=triggering_actor or actor,
                pull_numbers=[pull_number] if pull_number else [],
                created_at=self.world.now(),
                run_number=len(state.runs) + 1,
            )
            state.runs[run.id] = run
        self._emit_run(record, run, "requested")
        return run.id

    def rerun_workflow(self, repo: str, run_id: int, *, actor: str) -> None:
        """Re-run a workflow run (a new attempt); sends `workflow_run.requested`."""
        record = self.world.repo(repo)
        with self.world.lock:
            run = actions.actions(self.world).runs[run_id]
            run.run_attempt += 1
            run.status, run.conclusion = "queued", None
            run.triggering_actor = actor
        self._emit_run(record, run, "requested")

    def start_workflow_run(self, repo: str, run_id: int) -> None:
        """The run's first job starts; sends `workflow_run.in_progress`."""
        record = self.world.repo(repo)
        with self.world.lock:
            run = actions.actions(self.world).runs[run_id]
            run.status = "in_progress"
        self._emit_run(record, run, "in_progress")

    def workflow_runs(self) -> dict[int, actions.WorkflowRun]:
        with self.world.lock:
            return dict(actions.actions(self.world).runs)

    def _emit_run(self, record: Repo, run: actions.WorkflowRun, action: str) -> None:
        self._emit(
            "workflow_run",
            record,
            lambda i: actions.workflow_run_event(self.world, i, record, run, action),
        )

    def request_deployment(
        self,
        repo: str,
        *,
        environment: str,
        creator: str,
        ref: str | None = None,
        sha: str | None = None,
        triggering_actor: str | None = None,
        pull_number: int | None = None,
    ) -> tuple[int, int]:
        """A workflow job targets `environment` with a custom protection rule: GitHub creates
        the deployment, holds the run and sends `deployment_protection_rule.requested`.
        Returns (deployment id, run id)."""
        record = self.world.repo(repo)
        with self.world.lock:
            state = actions.actions(self.world)
            ref = ref or record.default_branch
            commit = self.world.resolve(record, sha or ref)
            if commit is None:
                raise LookupError(f"no commit for {sha or ref}")
            run = actions.WorkflowRun(
                id=self.world.next_id(),
                repo=record.full_name.lower(),
                name="Deploy",
                path=".github/workflows/deploy.yml",
                head_branch=ref,
                head_sha=commit.sha,
                event="workflow_dispatch",
                actor=creator,
                triggering_actor=triggering_actor or creator,
                pull_numbers=[pull_number] if pull_number else [],
                created_at=self.world.now(),
                status="waiting",
                run_number=len(state.runs) + 1,
            )
            state.runs[run.id] = run
            deployment = actions.Deployment(
                id=self.world.next_id(),
                repo=record.full_name.lower(),
                sha=commit.sha,
                ref=ref,
                environment=environment,
                creator=creator,
                run_id=run.id,
                created_at=self.world.now(),
            )
            state.deployments[deployment.id] = deployment
            state.gates[(run.id, environment)] = "waiting"
        self._emit(
            "deployment_protection_rule",
            record,
            lambda i: actions.protection_rule_event(
                self.world, i, record, deployment, triggering_actor or creator
            ),
        )
        return deployment.id, run.id

    def deployment_reviews(self, run_id: int) -> list[actions.ProtectionReview]:
        """What apps posted to the run's deployment protection rule, oldest first."""
        with self.world.lock:
            return [r for r in actions.actions(self.world).reviews if r.run_id == run_id]

    def deployment_gate(self, run_id: int, environment: str) -> str | None:
        """waiting | approved | rejected, as GitHub holds the environment of the run."""
        with self.world.lock:
            return actions.actions(self.world).gates.get((run_id, environment))
