"""What an installation token can write, as GitHub answers it and the webhooks it sends:
commit a file, create a branch, open and retarget a pull request, dismiss a review; and
GitHub's records of who did it (repository activity, issue events). Called through
githubkit's typed methods, so every answer parses against GitHub's OpenAPI description."""

from __future__ import annotations

import base64

import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.simulator import Installed, Simulator

REPO = ("acme", "widgets")
BOT = "foureyes[bot]"


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def main_sha(simulator: Simulator) -> str:
    with simulator.world.lock:
        return simulator.world.repo("acme/widgets").branches["main"]


@pytest.fixture
def pull(simulator: Simulator, installed: Installed) -> int:
    simulator.add_user("hugo")
    return simulator.open_pull_request(
        "acme/widgets", author="hugo", head_ref="docs", files={"docs.md": "1\n"}
    )


def test_a_file_committed_to_a_pull_requests_branch_is_pushed_by_the_bot(
    simulator: Simulator, installation_github: GitHub, pull: int
) -> None:
    # The commit claims hugo (a no-reply address links to his account) ...
    hugo = {"name": "Hugo", "email": "hugo@users.noreply.github.com"}
    answer = installation_github.rest.repos.create_or_update_file_contents(
        *REPO,
        "src/a.py",
        message="Add a",
        content=encoded("x\n"),
        branch="docs",
        author=hugo,
        committer=hugo,
    )
    assert answer.status_code == 201
    sha = answer.parsed_data.commit.sha
    commit = installation_github.rest.pulls.list_commits(*REPO, pull).parsed_data[-1]
    assert commit.sha == sha and commit.author and commit.author.login == "hugo"
    # ... but GitHub names who pushed it: the token's bot.
    sync = simulator.last_payload
    assert (sync["action"], sync["after"], sync["sender"]["login"]) == ("synchronize", sha, BOT)
    [activity, *_] = installation_github.rest.repos.list_activities(
        *REPO, ref="refs/heads/docs"
    ).parsed_data
    assert (activity.after, activity.actor and activity.actor.login) == (sha, BOT)


def test_committing_over_an_existing_file_needs_its_blob_sha(
    installation_github: GitHub, pull: int
) -> None:
    with pytest.raises(RequestFailed) as missing:
        installation_github.rest.repos.create_or_update_file_contents(
            *REPO, "docs.md", message="Edit", content=encoded("2\n"), branch="docs"
        )
    assert missing.value.response.status_code == 422
    with pytest.raises(RequestFailed) as unknown:
        installation_github.rest.repos.create_or_update_file_contents(
            *REPO, "docs.md", message="Edit", content=encoded("2\n"), branch="nope"
        )
    assert unknown.value.response.status_code == 404


def test_a_branch_created_and_a_pull_request_opened_by_the_token_are_the_bots(
    simulator: Simulator, installation_github: GitHub
) -> None:
    rest = installation_github.rest
    created = rest.git.create_ref(*REPO, ref="refs/heads/feature", sha=main_sha(simulator))
    assert created.status_code == 201
    push = simulator.last_payload
    assert (push["ref"], push["created"], push["sender"]["login"]) == (
        "refs/heads/feature",
        True,
        BOT,
    )
    with pytest.raises(RequestFailed) as exists:
        rest.git.create_ref(*REPO, ref="refs/heads/feature", sha=main_sha(simulator))
    assert exists.value.response.status_code == 422
    with pytest.raises(RequestFailed) as empty:
        rest.pulls.create(*REPO, title="Nothing", head="feature", base="main")
    assert empty.value.response.status_code == 422

    rest.repos.create_or_update_file_contents(
        *REPO, "b.py", message="Add b", content=encoded("b\n"), branch="feature"
    )
    opened = rest.pulls.create(*REPO, title="Add b", head="feature", base="main").parsed_data
    assert opened.user and opened.user.login == BOT
    assert simulator.last_payload["action"] == "opened"
    assert [f.filename for f in rest.pulls.list_files(*REPO, opened.number).parsed_data] == ["b.py"]


def test_changing_the_base_retargets_the_diff_and_says_so(
    simulator: Simulator, installation_github: GitHub
) -> None:
    rest = installation_github.rest
    rest.git.create_ref(*REPO, ref="refs/heads/scratch", sha=main_sha(simulator))
    parked = rest.repos.create_or_update_file_contents(
        *REPO, "payload.py", message="Park", content=encoded("p\n"), branch="scratch"
    ).parsed_data.commit.sha
    rest.git.create_ref(*REPO, ref="refs/heads/small", sha=parked)
    rest.repos.create_or_update_file_contents(
        *REPO, "typo.md", message="Typo", content=encoded("t\n"), branch="small"
    )
    number = rest.pulls.create(*REPO, title="Typo", head="small", base="scratch").parsed_data.number
    assert [f.filename for f in rest.pulls.list_files(*REPO, number).parsed_data] == ["typo.md"]

    updated = rest.pulls.update(*REPO, number, base="main").parsed_data
    assert updated.base.ref == "main"
    edited = simulator.last_payload
    assert (edited["action"], edited["sender"]["login"]) == ("edited", BOT)
    assert edited["changes"]["base"]["ref"]["from"] == "scratch"
    assert [f.filename for f in rest.pulls.list_files(*REPO, number).parsed_data] == [
        "payload.py",
        "typo.md",
    ]
    with pytest.raises(RequestFailed) as invalid:
        rest.pulls.update(*REPO, number, base="no-such-branch")
    assert invalid.value.response.status_code == 422


def test_dismissing_a_review_names_who_dismissed_it(
    simulator: Simulator, installation_github: GitHub, pull: int
) -> None:
    rest = installation_github.rest
    comment = simulator.review("acme/widgets", pull, "maria", state="COMMENTED")
    with pytest.raises(RequestFailed) as commented:
        rest.pulls.dismiss_review(*REPO, pull, comment, message="Not a decision")
    assert commented.value.response.status_code == 422
    review = simulator.review("acme/widgets", pull, "maria", state="CHANGES_REQUESTED")
    with pytest.raises(RequestFailed) as no_message:
        rest.pulls.dismiss_review(*REPO, pull, review, message="")
    assert no_message.value.response.status_code == 422

    dismissed = rest.pulls.dismiss_review(*REPO, pull, review, message="Addressed").parsed_data
    assert dismissed.state == "DISMISSED"
    hook = simulator.last_payload
    assert (hook["action"], hook["review"]["state"], hook["sender"]["login"]) == (
        "dismissed",
        "dismissed",
        BOT,
    )
    [event] = rest.issues.list_events(*REPO, pull).parsed_data
    assert event.event == "review_dismissed" and event.actor and event.actor.login == BOT
    assert event.dismissed_review.review_id == review
    assert event.dismissed_review.state == "changes_requested"
