"""The simulator's commit graph: one commit with its parents, the comparison of two, and
GitHub's refusals (unknown commits, unrelated histories), asked over HTTP as the app asks."""

from __future__ import annotations

import pytest
from githubkit import GitHub
from githubkit.exception import RequestFailed

from app.simulator import Installed, Simulator, World

REPO = "acme/widgets"


def branch(world: World, name: str, parent: str | None, count: int, prefix: str) -> list[str]:
    """`count` commits on top of `parent` (None: a history of its own), `name` at the last."""
    shas = []
    for index in range(count):
        commit = world.add_commit(
            parent,
            {f"{prefix}/{index}.txt": f"{prefix} {index}\n"},
            author="alice",
            message=f"{prefix} {index}",
        )
        parent = commit.sha
        shas.append(commit.sha)
    world.repo(REPO).branches[name] = shas[-1]
    return shas


def main_sha(world: World) -> str:
    return world.repo(REPO).branches["main"]


def refused(call) -> tuple[int, str]:
    with pytest.raises(RequestFailed) as caught:
        call()
    return caught.value.response.status_code, caught.value.response.json()["message"]


def test_a_commit_carries_its_parents_and_its_changes(
    world: World, installed: Installed, installation_github: GitHub
) -> None:
    base = main_sha(world)
    [sha] = branch(world, "feature", base, 1, "feature")
    commit = installation_github.rest.repos.get_commit("acme", "widgets", sha).parsed_data
    assert commit.sha == sha
    assert [parent.sha for parent in commit.parents] == [base]
    assert [(f.filename, f.status) for f in commit.files] == [("feature/0.txt", "added")]
    by_branch = installation_github.rest.repos.get_commit("acme", "widgets", "feature").json()
    assert by_branch["sha"] == sha


def test_an_unknown_commit_is_refused_with_githubs_message(
    installed: Installed, installation_github: GitHub
) -> None:
    unknown = "0" * 40
    get = installation_github.rest.repos.get_commit
    assert refused(lambda: get("acme", "widgets", unknown)) == (
        422,
        f"No commit found for SHA: {unknown}",
    )
    assert refused(lambda: get("acme", "widgets", "no-such-branch")) == (
        422,
        "No commit found for SHA: no-such-branch",
    )


@pytest.mark.parametrize(
    ("ahead", "behind", "status"),
    [(2, 0, "ahead"), (0, 3, "behind"), (2, 3, "diverged"), (0, 0, "identical")],
)
def test_compare_reports_status_counts_and_merge_base(
    world: World,
    installed: Installed,
    installation_github: GitHub,
    ahead: int,
    behind: int,
    status: str,
) -> None:
    fork = main_sha(world)
    base = branch(world, "base", fork, behind, "base")[-1] if behind else fork
    head = branch(world, "head", fork, ahead, "head")[-1] if ahead else fork
    world.repo(REPO).branches.update(base=base, head=head)
    found = installation_github.rest.repos.compare_commits("acme", "widgets", "base...head")
    body = found.parsed_data
    assert (body.status, body.ahead_by, body.behind_by, body.total_commits) == (
        status,
        ahead,
        behind,
        ahead,
    )
    assert body.merge_base_commit.sha == fork
    assert body.base_commit.sha == base
    assert len(body.commits) == ahead
    assert [f.filename for f in body.files or ()] == [f"head/{i}.txt" for i in range(ahead)]


def test_compare_refuses_an_unknown_commit(
    world: World, installed: Installed, installation_github: GitHub
) -> None:
    compare = installation_github.rest.repos.compare_commits
    known = main_sha(world)
    unknown = (f"{'0' * 40}...{known}", f"{known}...{'f' * 40}", "main...nowhere")
    for basehead in (*unknown, "main", "main...", "...main"):
        assert refused(lambda b=basehead: compare("acme", "widgets", b)) == (404, "Not Found")


def test_compare_refuses_unrelated_histories(
    world: World, installed: Installed, installation_github: GitHub
) -> None:
    [orphan] = branch(world, "orphan", None, 1, "orphan")
    compare = installation_github.rest.repos.compare_commits
    assert refused(lambda: compare("acme", "widgets", "main...orphan")) == (
        404,
        "No common ancestor between main and orphan.",
    )
    assert refused(lambda: compare("acme", "widgets", f"{orphan}...main")) == (
        404,
        f"No common ancestor between {orphan} and main.",
    )


def test_compare_paginates_like_github(
    simulator: Simulator, world: World, installed: Installed, installation_github: GitHub
) -> None:
    shas = branch(world, "long", main_sha(world), 260, "long")
    compare = installation_github.rest.repos.compare_commits

    # Without paging parameters: the newest 250, the files, no Link header.
    whole = compare("acme", "widgets", "main...long")
    body = whole.json()
    assert [c["sha"] for c in body["commits"]] == shas[-250:]
    assert body["total_commits"] == 260
    assert len(body["files"]) == 260 and "link" not in whole.headers

    # With them: oldest first, files on the first page only (at most 300), Link headers.
    first = compare("acme", "widgets", "main...long", per_page=100, page=1)
    assert [c["sha"] for c in first.json()["commits"]] == shas[:100]
    assert len(first.json()["files"]) == 260
    api = f"{simulator.url}/repos/acme/widgets/compare/main...long"
    assert first.headers["link"] == (
        f'<{api}?per_page=100&page=2>; rel="next", <{api}?per_page=100&page=3>; rel="last"'
    )
    last = compare("acme", "widgets", "main...long", per_page=100, page=3)
    assert [c["sha"] for c in last.json()["commits"]] == shas[200:]
    assert "files" not in last.json()
    assert 'rel="next"' not in last.headers["link"]
    assert 'rel="prev"' in last.headers["link"]
