"""Reconciliation against the simulator: pull requests whose webhooks were lost get the
right check, and a pass over an unchanged installation costs no rate limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.github.publish import external_id
from app.simulator import Installed, Simulator
from workers import reconcile
from workers.reconcile import reconcile_installation_now

REPO = "acme/gated"
AGENT = "copilot-swe-agent[bot]"
POLICY = """\
version: 1
agents:
  logins: ["copilot-swe-agent[bot]"]
merge:
  rules:
    - name: human review
      require: {approvals: %d, permission: write}
"""


@pytest.fixture
def repo(simulator: Simulator, installed: Installed) -> str:
    # The app has no webhook URL: every story step below is an event foureyes never got.
    simulator.add_repo(REPO, files={"README.md": "# gated\n", ".github/foureyes.yml": POLICY % 1})
    simulator.add_user(AGENT, "Bot")
    for login in ("maintainer", "second", "dev"):
        simulator.set_role(REPO, login, "write")
    return REPO


def open_pull(simulator: Simulator, author: str, n: int) -> int:
    number = simulator.open_pull_request(
        REPO, author=author, head_ref=f"change-{n}", files={f"src/{n}.py": "x = 1\n"}
    )
    with simulator.world.lock:  # opened a minute ago, before any check was written
        pull = simulator.world.repo(REPO).pulls[number]
        pull.updated_at -= timedelta(minutes=1)
    return number


def reviewed_a_minute_ago(simulator: Simulator, number: int, login: str) -> None:
    """An approval given before foureyes last looked (its webhook lost too)."""
    simulator.review(REPO, number, login)
    with simulator.world.lock:
        simulator.world.repo(REPO).pulls[number].updated_at -= timedelta(minutes=1)


def check(simulator: Simulator, number: int):
    with simulator.world.lock:
        head = simulator.world.repo(REPO).pulls[number].head_sha
        runs = [
            run
            for run in simulator.world.check_runs.values()
            if run.repo == REPO and run.head_sha == head and run.name == "foureyes"
        ]
    # GitHub judges a head by the newest run of the name.
    return max(runs, key=lambda run: run.id) if runs else None


def runs_on_head(simulator: Simulator, number: int) -> int:
    with simulator.world.lock:
        head = simulator.world.repo(REPO).pulls[number].head_sha
        return sum(r.head_sha == head for r in simulator.world.check_runs.values())


def conclusion(simulator: Simulator, number: int) -> str | None:
    run = check(simulator, number)
    return run.conclusion if run else None


def reconcile_pass(deps, installed: Installed) -> dict[str, int]:
    return dict(reconcile_installation_now(deps, installed.installation_id))


def until_quiet(deps, installed: Installed) -> None:
    """Reconcile until a pass finds nothing (a check written in the same second as the
    pull request's last update counts as stale once)."""
    for _ in range(3):
        if not reconcile_pass(deps, installed):
            return
    pytest.fail("reconciliation did not converge in three passes")


def test_missing_checks_are_written_and_a_quiet_pass_costs_no_rate_limit(
    simulator, installed, repo, deps
):
    agent_pull = open_pull(simulator, AGENT, 1)
    human_pull = open_pull(simulator, "dev", 2)
    assert check(simulator, agent_pull) is None

    assert reconcile_pass(deps, installed) == {"missing": 2}
    assert conclusion(simulator, agent_pull) == "action_required"
    assert conclusion(simulator, human_pull) == "success"
    assert runs_on_head(simulator, agent_pull) == runs_on_head(simulator, human_pull) == 1

    assert reconcile_pass(deps, installed) == {}  # the fixes landed: now marked clean
    simulator.clear_requests()
    assert reconcile_pass(deps, installed) == {}
    listed = [r for r in simulator.requests if r.path.endswith("/pulls")]
    assert {r.status for r in listed} == {304}
    assert [r for r in simulator.requests if "check-runs" in r.path] == []
    assert all(r.method == "GET" for r in simulator.requests)


def test_a_lost_review_makes_the_check_stale_and_it_is_fixed(simulator, installed, repo, deps):
    number = open_pull(simulator, AGENT, 1)
    reconcile_pass(deps, installed)
    reconcile_pass(deps, installed)
    assert conclusion(simulator, number) == "action_required"

    simulator.review(REPO, number, "maintainer")  # its webhook never arrived
    assert reconcile_pass(deps, installed) == {"stale": 1}
    assert conclusion(simulator, number) == "success"
    assert runs_on_head(simulator, number) == 1  # updated in place


def test_a_lost_push_leaves_the_new_head_without_a_check_until_reconciled(
    simulator, installed, repo, deps
):
    number = open_pull(simulator, AGENT, 1)
    simulator.review(REPO, number, "maintainer")
    reconcile_pass(deps, installed)
    assert conclusion(simulator, number) == "success"

    simulator.push(REPO, number, author=AGENT, files={"src/1.py": "x = 2\n"})
    assert check(simulator, number) is None  # the new head: no check, and no approval
    assert reconcile_pass(deps, installed) == {"missing": 1}
    assert conclusion(simulator, number) == "action_required"


def test_a_policy_change_whose_push_was_lost_re_judges_open_pull_requests(
    simulator, installed, repo, deps
):
    number = open_pull(simulator, AGENT, 1)
    reviewed_a_minute_ago(simulator, number, "maintainer")
    until_quiet(deps, installed)
    assert conclusion(simulator, number) == "success"

    simulator.push_default_branch(REPO, {".github/foureyes.yml": POLICY % 2}, pusher="admin")
    assert reconcile_pass(deps, installed) == {"policy": 1}
    assert conclusion(simulator, number) == "action_required"
    assert "2" in check(simulator, number).output["summary"]


def test_an_org_policy_change_is_caught_by_the_hourly_policy_look(
    simulator, installed, deps, monkeypatch
):
    # The repository has no policy of its own: the org's `.github` repository decides.
    simulator.add_repo("acme/.github", files={"foureyes.yml": POLICY % 1})
    simulator.add_repo(REPO, files={"README.md": "# gated\n"})
    simulator.add_user(AGENT, "Bot")
    for login in ("maintainer", "second"):
        simulator.set_role(REPO, login, "write")
    number = open_pull(simulator, AGENT, 1)
    reviewed_a_minute_ago(simulator, number, "maintainer")
    until_quiet(deps, installed)
    assert conclusion(simulator, number) == "success"

    simulator.push_default_branch("acme/.github", {"foureyes.yml": POLICY % 2}, pusher="admin")
    assert reconcile_pass(deps, installed) == {}  # its pull requests did not change
    monkeypatch.setattr(reconcile, "POLICY_RECHECK", 0.0)  # an hour later
    assert reconcile_pass(deps, installed) == {"policy": 1}
    assert conclusion(simulator, number) == "action_required"


def test_a_check_written_under_another_policy_source_is_re_evaluated(
    simulator, installed, repo, deps, installation_github
):
    number = open_pull(simulator, AGENT, 1)
    head = simulator.world.repo(REPO).pulls[number].head_sha
    # A passing check of ours written under a policy that no longer applies.
    installation_github.rest.checks.create(
        "acme",
        "gated",
        data={
            "name": "foureyes",
            "head_sha": head,
            "status": "completed",
            "conclusion": "success",
            "external_id": external_id("built-in default"),
            "output": {"title": "Passed", "summary": "old"},
        },
    )
    assert reconcile_pass(deps, installed) == {"policy": 1}
    assert conclusion(simulator, number) == "action_required"


def test_repositories_without_open_pull_requests_cost_one_conditional_request(
    simulator, installed, repo, deps
):
    reconcile_pass(deps, installed)
    simulator.clear_requests()
    reconcile_pass(deps, installed)
    by_path = {(r.method, r.path, r.status) for r in simulator.requests}
    assert ("GET", "/repos/acme/gated/pulls", 304) in by_path
    assert ("GET", "/repos/acme/widgets/pulls", 304) in by_path
    assert not [r for r in simulator.requests if "/contents/" in r.path]


def test_the_scheduled_job_reconciles_every_installation(simulator, installed, repo, deps):
    from workers import beat_schedule
    from workers.reconcile import reconcile_all

    number = open_pull(simulator, AGENT, 1)
    schedule = {entry["task"]: entry for entry in beat_schedule().values()}
    assert schedule["workers.reconcile.reconcile_all"]["schedule"] == 600.0
    assert reconcile_all.apply().result == 1  # one installation, reconciled inline (eager)
    assert conclusion(simulator, number) == "action_required"
