"""Story helpers: state changes, webhook payloads githubkit parses, signed deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from githubkit.webhooks import parse
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.simulator import Installed, Simulator
from app.simulator.repos import create_check_run


class Receiver:
    """A stand-in app endpoint that keeps what it receives and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 202
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append((dict(request.headers), request.get_data()))
        return Response("{}", status=self.status)(environ, start_response)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=lambda: receiver.server.serve_forever(0.05), daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def parsed(simulator: Simulator, event: str) -> Any:
    assert simulator.last_payload is not None
    return parse(event, json.dumps(simulator.last_payload))


def test_every_story_step_sends_a_payload_githubkit_parses(
    simulator: Simulator, installed: Installed
) -> None:
    repo = "acme/widgets"
    number = simulator.open_pull_request(
        repo, author="agent[bot]", files={"a.py": "1"}, labels=["ai-generated"]
    )
    opened = parsed(simulator, "pull_request")
    assert (opened.action, opened.number, opened.installation.id) == (
        "opened",
        number,
        installed.installation_id,
    )
    assert opened.pull_request.user.login == "agent[bot]"
    assert opened.repository.full_name == repo and opened.sender.login == "agent[bot]"

    before = opened.pull_request.head.sha
    after = simulator.push(repo, number, author="agent[bot]", files={"b.py": "2"})
    synchronize = parsed(simulator, "pull_request")
    assert (synchronize.action, synchronize.before, synchronize.after) == (
        "synchronize",
        before,
        after,
    )
    assert synchronize.pull_request.head.sha == after

    review_id = simulator.review(repo, number, "alice", commit_id=before)
    review = parsed(simulator, "pull_request_review")
    assert (review.action, review.review.state, review.review.commit_id) == (
        "submitted",
        "approved",
        before,
    )
    assert review.review.id == review_id and review.review.user.login == "alice"

    simulator.dismiss_review(repo, number, review_id, sender="bob")
    assert parsed(simulator, "pull_request_review").review.state == "dismissed"

    simulator.label(repo, number, "needs-review", sender="bob")
    labeled = parsed(simulator, "pull_request")
    assert labeled.label.name == "needs-review"
    assert [x.name for x in labeled.pull_request.labels] == ["ai-generated", "needs-review"]
    simulator.label(repo, number, "needs-review", sender="bob", remove=True)
    assert parsed(simulator, "pull_request").action == "unlabeled"

    comment_id = simulator.comment(repo, number, "alice", "/foureyes approve")
    comment = parsed(simulator, "issue_comment")
    assert (comment.comment.id, comment.comment.body) == (comment_id, "/foureyes approve")
    assert comment.issue.number == number and comment.issue.pull_request is not None

    group_sha = simulator.merge_group(repo, [number])
    group = parsed(simulator, "merge_group")
    assert group.merge_group.head_sha == group_sha
    assert group.merge_group.base_ref == "refs/heads/main"
    assert after in simulator.world.commits[group_sha].parents

    merge_sha = simulator.merge(repo, number, merged_by="alice")
    push = parsed(simulator, "push")
    assert (push.ref, push.after, push.pusher.name) == ("refs/heads/main", merge_sha, "alice")
    assert simulator.world.repo(repo).pulls[number].merged


def test_closing_by_merge_sends_closed_merged(
    simulator: Simulator, installed: Installed, receiver: Receiver
) -> None:
    simulator.configure_webhook(installed.app_id, receiver.url)
    number = simulator.open_pull_request("acme/widgets", author="bob", files={"x": "1"})
    simulator.merge("acme/widgets", number, merged_by="alice")
    events = [(h["X-Github-Event"], json.loads(body)) for h, body in receiver.received]
    closed = [payload for event, payload in events if payload.get("action") == "closed"]
    [payload] = closed
    event = parse("pull_request", json.dumps(payload))
    assert event.pull_request.merged is True and event.pull_request.merged_by.login == "alice"
    assert [e for e, _ in events] == ["pull_request", "pull_request", "push"]


def test_push_and_rerequest_payloads_parse(simulator: Simulator, installed: Installed) -> None:
    sha = simulator.push_default_branch(
        "acme/widgets", {"README.md": None, "new.txt": "n"}, pusher="alice"
    )
    push = parsed(simulator, "push")
    assert push.head_commit.id == sha
    assert (push.head_commit.added, push.head_commit.removed) == (["new.txt"], ["README.md"])

    world = simulator.world
    run = create_check_run(
        world,
        world.repo("acme/widgets"),
        installed.app_id,
        {"name": "foureyes", "head_sha": sha, "conclusion": "failure"},
    )
    simulator.rerequest_check("acme/widgets", run.id, sender="alice")
    rerequested = parsed(simulator, "check_run")
    assert (rerequested.check_run.id, rerequested.check_run.app.id) == (run.id, installed.app_id)


def test_installation_created_payload_parses(simulator: Simulator) -> None:
    simulator.add_repo("initech/tps")
    installed = simulator.install(account="initech")
    event = parsed(simulator, "installation")
    assert event.installation.id == installed.installation_id
    assert event.installation.app_id == installed.app_id
    assert [r.full_name for r in event.repositories] == ["initech/tps"]


def test_deliveries_are_signed_and_recorded(
    simulator: Simulator, installed: Installed, receiver: Receiver
) -> None:
    simulator.configure_webhook(installed.app_id, receiver.url)
    number = simulator.open_pull_request("acme/widgets", author="bob", files={"x": "1"})
    [(headers, body)] = receiver.received
    expected = hmac.new(installed.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert headers["X-Github-Event"] == "pull_request"
    assert json.loads(body)["number"] == number
    [delivery] = simulator.world.deliveries
    assert (delivery.guid, delivery.event, delivery.action, delivery.status_code) == (
        headers["X-Github-Delivery"],
        "pull_request",
        "opened",
        202,
    )


def test_redelivery_keeps_the_delivery_id(
    simulator: Simulator, installed: Installed, receiver: Receiver
) -> None:
    simulator.configure_webhook(installed.app_id, receiver.url)
    simulator.comment(
        "acme/widgets",
        simulator.open_pull_request("acme/widgets", author="bob", files={"x": "1"}),
        "alice",
        "hi",
    )
    original = simulator.world.deliveries[-1]
    receiver.status = 503
    response = simulator.deliver(original.event, original.payload, guid=original.guid)
    assert response.status_code == 503
    again = simulator.world.deliveries[-1]
    assert (again.guid, again.redelivery, again.status_code) == (original.guid, True, 503)
    assert receiver.received[-1][0]["X-Github-Delivery"] == original.guid


def test_without_a_webhook_url_helpers_only_build_payloads(
    simulator: Simulator, installed: Installed
) -> None:
    simulator.open_pull_request("acme/widgets", author="bob", files={"x": "1"})
    assert simulator.last_payload is not None and simulator.last_payload["action"] == "opened"
    assert simulator.world.deliveries == []


def test_apps_get_only_the_events_they_subscribed_to(
    simulator: Simulator, receiver: Receiver
) -> None:
    simulator.add_repo("acme/widgets")
    installed = simulator.install(receiver.url, account="acme", events=["push"])
    simulator.open_pull_request("acme/widgets", author="bob", files={"x": "1"})
    simulator.push_default_branch("acme/widgets", {"y": "2"}, pusher="alice")
    events = [headers["X-Github-Event"] for headers, _ in receiver.received]
    assert events == ["installation", "push"]
    assert installed.installation_id == json.loads(receiver.received[-1][1])["installation"]["id"]


def test_editing_an_issue_over_rest_sends_issues_edited_from_the_caller(
    simulator: Simulator, installation_github: Any, receiver: Receiver, installed: Installed
) -> None:
    """GitHub sends `issues.edited` when a title or body changes, with the old values in
    `changes` and the caller as sender (an installation token acts as the app's bot)."""
    simulator.configure_webhook(installed.app_id, receiver.url)
    gh = installation_github
    created = gh.rest.issues.create("acme", "widgets", title="Asks", body="contents: read")
    number = created.json()["number"]
    gh.rest.issues.update("acme", "widgets", number, state="closed")  # no title/body change
    assert not [h for h, _ in receiver.received if h["X-Github-Event"] == "issues"]
    gh.rest.issues.update("acme", "widgets", number, body="workflows: write")
    [body] = [b for h, b in receiver.received if h["X-Github-Event"] == "issues"]
    edited = parse("issues", body)
    assert edited.action == "edited"
    assert edited.issue.number == number and edited.issue.body == "workflows: write"
    assert json.loads(body)["changes"] == {"body": {"from": "contents: read"}}
    assert edited.sender.login == "foureyes[bot]"
    assert edited.installation.id == installed.installation_id


def test_pull_requests_from_one_branch_into_two_bases_share_the_head(
    simulator: Simulator, installed: Installed, installation_github
) -> None:
    """GitHub lets any number of pull requests share a head branch, one per base; each
    lists the commits its base lacks, and `GET /pulls` shows both at the same head."""
    repo = "acme/widgets"
    first = simulator.open_pull_request(repo, author="bob", head_ref="fix", files={"x": "1"})
    simulator.push_branch(repo, "scratch", {"notes": "n"}, pusher="carol")
    second = simulator.open_pull_request_from(repo, author="carol", head_ref="fix", base="scratch")
    event = parsed(simulator, "pull_request")
    assert (event.action, event.pull_request.number) == ("opened", second)
    assert event.pull_request.head.ref == "fix" and event.pull_request.base.ref == "scratch"
    listed = installation_github.rest.pulls.list("acme", "widgets", state="open").json()
    heads = {pull["number"]: pull["head"]["sha"] for pull in listed}
    assert heads[first] == heads[second]
    commits = installation_github.rest.pulls.list_commits("acme", "widgets", second).json()
    assert [c["sha"] for c in commits] == [heads[first]]
    with pytest.raises(ValueError, match="No commits between"):
        simulator.open_pull_request_from(repo, author="carol", head_ref="scratch", base="scratch")
    with pytest.raises(ValueError, match="already exists"):
        simulator.open_pull_request_from(repo, author="carol", head_ref="fix", base="scratch")

    after = simulator.push(repo, first, author="bob", files={"x": "2"})
    synchronized = parsed(simulator, "pull_request")  # the last of one per pull request
    assert (synchronized.action, synchronized.pull_request.number) == ("synchronize", second)
    assert synchronized.after == after
    listed = installation_github.rest.pulls.list("acme", "widgets", state="open").json()
    assert {pull["head"]["sha"] for pull in listed} == {after}


def test_closing_without_merging_sends_closed_not_merged(
    simulator: Simulator, installed: Installed
) -> None:
    number = simulator.open_pull_request("acme/widgets", author="bob", files={"x": "1"})
    simulator.close("acme/widgets", number, sender="alice")
    event = parsed(simulator, "pull_request")
    assert event.action == "closed" and event.pull_request.merged is False
    assert event.pull_request.state == "closed" and event.sender.login == "alice"
