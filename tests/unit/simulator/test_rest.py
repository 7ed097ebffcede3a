"""The REST endpoints, called through githubkit's typed methods as the app calls them."""

from __future__ import annotations

import base64

import httpx
import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.simulator import Installed, Simulator
from app.simulator.repos import MAX_PULL_COMMITS, MAX_PULL_FILES

POLICY = "version: 1\nmerge:\n  rules: []\n"


@pytest.fixture
def pull(simulator: Simulator, installed: Installed) -> int:
    simulator.set_role("acme/widgets", "alice", "write")
    return simulator.open_pull_request(
        "acme/widgets",
        author="agent[bot]",
        head_ref="agents/fix",
        files={"src/app.py": "print('hi')\n", "README.md": None},
        labels=["ai-generated"],
        title="Fix it",
    )


def test_app_and_installations_parse(app_github: GitHub, installed: Installed) -> None:
    [listed] = app_github.rest.apps.list_installations().parsed_data
    one = app_github.rest.apps.get_installation(installed.installation_id).parsed_data
    assert listed.id == one.id == installed.installation_id
    assert one.account is not None and one.account.login == "acme"
    assert one.app_slug == "foureyes"


def test_installation_repositories_parse(installation_github: GitHub) -> None:
    data = installation_github.rest.apps.list_repos_accessible_to_installation().parsed_data
    assert [r.full_name for r in data.repositories] == ["acme/widgets"]


def test_repository_and_user_parse(simulator: Simulator, installation_github: GitHub) -> None:
    repo = installation_github.rest.repos.get("acme", "widgets").parsed_data
    assert (repo.full_name, repo.default_branch, repo.private) == ("acme/widgets", "main", True)
    assert repo.url == f"{simulator.url}/repos/acme/widgets"
    simulator.add_user("alice")
    assert installation_github.rest.users.get_by_username("alice").parsed_data.login == "alice"
    with pytest.raises(RequestFailed) as missing:
        installation_github.rest.users.get_by_username("nobody")
    assert missing.value.response.status_code == 404


def test_pull_request_endpoints_parse(
    simulator: Simulator, installation_github: GitHub, pull: int
) -> None:
    rest = installation_github.rest
    got = rest.pulls.get("acme", "widgets", pull).parsed_data
    assert (got.number, got.title, got.user and got.user.login) == (pull, "Fix it", "agent[bot]")
    assert (got.head.ref, got.base.ref, got.state) == ("agents/fix", "main", "open")
    assert [label.name for label in got.labels] == ["ai-generated"]
    assert got.changed_files == 2
    [listed] = rest.pulls.list("acme", "widgets", state="open").parsed_data
    assert listed.head.sha == got.head.sha
    [commit] = rest.pulls.list_commits("acme", "widgets", pull).parsed_data
    assert commit.sha == got.head.sha and commit.author and commit.author.login == "agent[bot]"
    files = {
        f.filename: f.status for f in rest.pulls.list_files("acme", "widgets", pull).parsed_data
    }
    assert files == {"README.md": "removed", "src/app.py": "added"}
    simulator.review("acme/widgets", pull, "alice")
    [review] = rest.pulls.list_reviews("acme", "widgets", pull).parsed_data
    assert (review.state, review.commit_id) == ("APPROVED", got.head.sha)
    assert review.user and review.user.login == "alice"
    by_commit = rest.repos.list_pull_requests_associated_with_commit(
        "acme", "widgets", got.head.sha
    ).parsed_data
    assert [p.number for p in by_commit] == [pull]


def test_renamed_files_report_their_old_name(
    simulator: Simulator, installation_github: GitHub
) -> None:
    number = simulator.open_pull_request(
        "acme/widgets", author="bob", renames={"README.md": "docs/README.md"}
    )
    [change] = installation_github.rest.pulls.list_files("acme", "widgets", number).parsed_data
    assert (change.filename, change.status, change.previous_filename) == (
        "docs/README.md",
        "renamed",
        "README.md",
    )


def test_permissions_and_team_membership_parse(
    simulator: Simulator, installation_github: GitHub
) -> None:
    rest = installation_github.rest
    simulator.set_role("acme/widgets", "mia", "maintain")
    simulator.add_user("outsider")
    mia = rest.repos.get_collaborator_permission_level("acme", "widgets", "mia").parsed_data
    assert (mia.permission, mia.role_name) == ("write", "maintain")
    nobody = rest.repos.get_collaborator_permission_level("acme", "widgets", "outsider")
    assert nobody.parsed_data.permission == "none"
    simulator.add_team_member("acme/security", "mia")
    member = rest.teams.get_membership_for_user_in_org("acme", "security", "mia").parsed_data
    assert member.state == "active"
    with pytest.raises(RequestFailed) as absent:
        rest.teams.get_membership_for_user_in_org("acme", "security", "outsider")
    assert absent.value.response.status_code == 404


def test_contents_json_raw_and_missing(simulator: Simulator, installation_github: GitHub) -> None:
    simulator.push_default_branch("acme/widgets", {".github/foureyes.yml": POLICY}, pusher="alice")
    rest = installation_github.rest
    data = rest.repos.get_content("acme", "widgets", ".github/foureyes.yml").parsed_data
    assert base64.b64decode(data.content).decode() == POLICY
    raw = rest.repos.get_content(
        "acme", "widgets", ".github/foureyes.yml", headers={"Accept": "application/vnd.github.raw"}
    )
    assert raw.text == POLICY
    with pytest.raises(RequestFailed) as missing:
        rest.repos.get_content("acme", "widgets", "nope.yml")
    assert missing.value.response.status_code == 404


def test_contents_by_ref_read_that_commit(
    simulator: Simulator, installation_github: GitHub
) -> None:
    first = simulator.world.repo("acme/widgets").branches["main"]
    simulator.push_default_branch("acme/widgets", {"README.md": "v2\n"}, pusher="alice")
    rest = installation_github.rest
    raw = {"Accept": "application/vnd.github.raw+json"}
    assert rest.repos.get_content("acme", "widgets", "README.md", headers=raw).text == "v2\n"
    then = rest.repos.get_content("acme", "widgets", "README.md", ref=first, headers=raw)
    assert then.text == "# widgets\n"


def test_etag_gives_304_until_the_content_changes(
    simulator: Simulator, installation_github: GitHub
) -> None:
    path = "/repos/acme/widgets/contents/README.md"
    first = installation_github.request("GET", path)
    etag = first.headers["etag"]
    again = installation_github.request("GET", path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert int(again.headers["x-ratelimit-remaining"]) == int(
        first.headers["x-ratelimit-remaining"]
    )
    simulator.push_default_branch("acme/widgets", {"README.md": "new\n"}, pusher="alice")
    changed = installation_github.request("GET", path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert simulator.requests[-2].headers["if-none-match"] == etag


def test_pagination_follows_link_headers(simulator: Simulator, installation_github: GitHub) -> None:
    commits = [{"files": {f"f{i}.txt": str(i)}, "message": f"c{i}"} for i in range(7)]
    number = simulator.open_pull_request("acme/widgets", author="bob", commits=commits)
    first = installation_github.rest.pulls.list_commits("acme", "widgets", number, per_page=3)
    assert 'rel="next"' in first.headers["link"] and 'rel="last"' in first.headers["link"]
    everything = list(
        installation_github.rest.paginate(
            installation_github.rest.pulls.list_commits,
            owner="acme",
            repo="widgets",
            pull_number=number,
            per_page=3,
        )
    )
    assert [c.commit.message for c in everything] == [f"c{i}" for i in range(7)]


def test_pull_commits_and_files_are_capped_like_github(
    simulator: Simulator, installation_github: GitHub
) -> None:
    many_files = {f"f/{i}.txt": "x" for i in range(MAX_PULL_FILES + 5)}
    commits = [{"message": f"c{i}"} for i in range(MAX_PULL_COMMITS + 5)]
    number = simulator.open_pull_request(
        "acme/widgets", author="bob", files=many_files, commits=commits
    )
    rest = installation_github.rest
    listed_commits = list(
        rest.paginate(
            rest.pulls.list_commits, owner="acme", repo="widgets", pull_number=number, per_page=100
        )
    )
    assert len(listed_commits) == MAX_PULL_COMMITS
    last_page = rest.pulls.list_files("acme", "widgets", number, per_page=100, page=30)
    assert len(last_page.parsed_data) == 100
    beyond = rest.pulls.list_files("acme", "widgets", number, per_page=100, page=31)
    assert beyond.parsed_data == []


def test_check_runs_create_update_and_list_by_name(
    simulator: Simulator, installed: Installed, installation_github: GitHub, pull: int
) -> None:
    checks = installation_github.rest.checks
    head = simulator.world.repo("acme/widgets").pulls[pull].head_sha
    created = checks.create(
        "acme", "widgets", data={"name": "foureyes", "head_sha": head, "status": "in_progress"}
    ).parsed_data
    checks.create("acme", "widgets", data={"name": "other", "head_sha": head})
    assert (created.status, created.conclusion, created.app and created.app.id) == (
        "in_progress",
        None,
        installed.app_id,
    )
    assert [p.number for p in created.pull_requests] == [pull]
    output = {"title": "Blocked", "summary": "needs a human approval"}
    updated = checks.update(
        "acme", "widgets", created.id, data={"conclusion": "action_required", "output": output}
    ).parsed_data
    assert (updated.status, updated.conclusion) == ("completed", "action_required")
    assert updated.output.summary == "needs a human approval"
    listed = checks.list_for_ref("acme", "widgets", head, check_name="foureyes").parsed_data
    assert [run.id for run in listed.check_runs] == [created.id]
    by_app = checks.list_for_ref("acme", "widgets", head, app_id=installed.app_id).parsed_data
    assert by_app.total_count == 2
    assert checks.get("acme", "widgets", created.id).parsed_data.conclusion == "action_required"
    with pytest.raises(RequestFailed) as invalid:  # githubkit itself would refuse this body
        installation_github.request(
            "PATCH", f"/repos/acme/widgets/check-runs/{created.id}", json={"status": "completed"}
        )
    assert invalid.value.response.status_code == 422
    assert [(r.kind, r.status) for r in simulator.take_refusals()] == [("body", 422)]


def test_issues_and_comments(simulator: Simulator, installation_github: GitHub, pull: int) -> None:
    issues = installation_github.rest.issues
    issue = issues.create("acme", "widgets", title="Escalation", body="approve?").parsed_data
    assert issue.user and issue.user.login == "foureyes[bot]"
    simulator.comment("acme/widgets", issue.number, "alice", "/foureyes approve")
    mine = issues.create_comment("acme", "widgets", issue.number, body="Approved.").parsed_data
    listed = issues.list_comments("acme", "widgets", issue.number).parsed_data
    assert [c.body for c in listed] == ["/foureyes approve", "Approved."]
    assert listed[1].id == mine.id
    closed = issues.update("acme", "widgets", issue.number, state="closed").parsed_data
    assert (closed.state, issues.get("acme", "widgets", issue.number).parsed_data.state) == (
        "closed",
        "closed",
    )
    as_issue = issues.get("acme", "widgets", pull).parsed_data
    assert as_issue.pull_request is not None


def test_unknown_endpoints_answer_githubs_404(
    simulator: Simulator, installation_github: GitHub
) -> None:
    response = httpx.get(f"{simulator.url}/repos/acme/widgets/unknown-thing")
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found"
    assert "documentation_url" in response.json()
    assert simulator.requests[-1].path == "/repos/acme/widgets/unknown-thing"
    assert [r.kind for r in simulator.take_refusals()] == ["unknown_path"]
