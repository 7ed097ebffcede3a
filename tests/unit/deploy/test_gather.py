"""Provenance against the simulator: which base a commit is judged from, and the merge
queue's compare endpoint the guards share with the gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from githubkit import GitHub

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.deploy import records
from app.deploy.gather import compare, first_parent, provenance_of
from app.errors import GoneError
from app.github.answers import github_said
from app.migrate import upgrade
from app.policy.schema import Agents, Policy
from app.services import Services
from app.simulator import Simulator
from app.state import SqlState

REPO = "acme/widgets"
POLICY = Policy(agents=Agents(logins=("ci-agent-*",)))
BOT = "foureyes[bot]"


@pytest.fixture
def deps(tmp_path: Path) -> Services:
    engine = make_engine(f"sqlite:///{tmp_path / 'foureyes.sqlite'}")
    upgrade(engine, tmp_path)
    settings = Settings.from_mapping({"DATABASE_URL": str(engine.url)})
    return Services(settings, engine, make_session_factory(engine), SqlState(engine))


def provenance(gh: GitHub, deps: Services, sha: str):
    return provenance_of(gh, deps, POLICY, REPO, sha, "main", BOT)


def test_an_agent_commit_is_unreviewed_until_the_gate_passes_it(
    simulator: Simulator, installed, installation_github: GitHub, deps: Services
):
    number = simulator.open_pull_request(
        REPO, author="ci-agent-1", head_ref="fix", files={"a.py": "1\n"}
    )
    head = simulator.world.repo(REPO).pulls[number].head_sha
    found = provenance(installation_github, deps, head)
    assert not found.reviewed
    assert found.agents == ("ci-agent-1",)

    records.record_passed_head(deps, REPO, head, number)
    assert provenance(installation_github, deps, head).reviewed


def test_agent_commits_pushed_on_top_of_a_countersigned_merge_are_caught(
    simulator: Simulator, installed, installation_github: GitHub, deps: Services
):
    number = simulator.open_pull_request(REPO, author="dana", files={"b.py": "1\n"})
    pull = simulator.world.repo(REPO).pulls[number]
    merge = simulator.merge(REPO, number, merged_by="lee")
    records.record_merge(deps, REPO, merge, number, pull.head_sha, "lee", gate_passed=True)
    assert provenance(installation_github, deps, merge).reviewed

    # An agent pushes straight to main, then a human adds a commit on top.
    simulator.push_branch(REPO, "main", {"c.py": "agent\n"}, pusher="ci-agent-1")
    top = simulator.push_branch(REPO, "main", {"d.py": "human\n"}, pusher="dana")
    found = provenance(installation_github, deps, top)
    assert not found.reviewed
    assert found.agents == ("ci-agent-1",)
    assert f"since {merge[:7]}" in found.reason


def test_a_merge_made_while_the_gate_failed_does_not_countersign(
    simulator: Simulator, installed, installation_github: GitHub, deps: Services
):
    number = simulator.open_pull_request(
        REPO, author="ci-agent-1", head_ref="fix", files={"e.py": "1\n"}
    )
    pull = simulator.world.repo(REPO).pulls[number]
    merge = simulator.merge(REPO, number, merged_by="admin")
    records.record_merge(deps, REPO, merge, number, pull.head_sha, "admin", gate_passed=False)
    assert not provenance(installation_github, deps, merge).reviewed


def test_compare_lists_every_page_and_the_files(
    simulator: Simulator, installed, installation_github: GitHub, deps: Services
):
    commits = [{"files": {f"f{i}.py": f"{i}\n"}, "message": f"c{i}"} for i in range(130)]
    number = simulator.open_pull_request(REPO, author="dana", head_ref="big", commits=commits)
    head = simulator.world.repo(REPO).pulls[number].head_sha
    base = simulator.world.repo(REPO).branches["main"]
    found = compare(installation_github, deps, REPO, base, head)
    assert found.status == "ahead"
    assert len(found.commits) == 130
    assert found.commits[-1].sha == head
    assert len(found.files) == 130
    assert found.complete
    # Fixed shas never change: the second comparison is served from the shared state.
    simulator.clear_requests()
    assert compare(installation_github, deps, REPO, base, head) == found
    assert not [r for r in simulator.requests if "/compare/" in r.path]


def test_a_commit_github_does_not_know_is_gone_with_githubs_message(
    installed, installation_github: GitHub
) -> None:
    unknown = "0" * 40
    with pytest.raises(GoneError) as gone:
        first_parent(installation_github, REPO, unknown)
    assert github_said(gone.value) == (
        f"GitHub answered 422 for /repos/{REPO}/commits/{unknown}: "
        f"No commit found for SHA: {unknown}"
    )
