"""The workflow guard's decision (pure)."""

from __future__ import annotations

import pytest

from app.deploy.workflows import WorkflowRunFacts, ci_changes, decide_workflow_run
from app.policy.schema import Agents, Policy, Workflows
from tests.factories import APP_BOT, account, agent_link, commit

SHA = "f" * 40


def policy(action: str = "cancel") -> Policy:
    return Policy(agents=Agents(logins=("ci-agent-*",)), workflows=Workflows(agent_changes=action))


def facts(**overrides) -> WorkflowRunFacts:
    values = {
        "repository": "acme/app",
        "run_id": 7,
        "head_sha": SHA,
        "head_branch": "fix",
        "actor": account("ci-agent-1"),
        "triggering_actor": account("ci-agent-1"),
        "pull_number": 3,
        "pull_author": account("ci-agent-1"),
        "files": (".github/workflows/ci.yml", "src/app.py"),
        "commits": (commit("a" * 40, "ci-agent-1"),),
        "head_approved": False,
        "app_bot_login": APP_BOT,
    }
    return WorkflowRunFacts(**{**values, **overrides})


def test_ci_paths_are_workflows_and_actions_only():
    files = (".github/workflows/a.yml", ".github/actions/x/action.yml", ".github/foureyes.yml")
    assert ci_changes(files) == files[:2]


@pytest.mark.parametrize("action", ["cancel", "flag", "allow"])
def test_an_agent_change_to_ci_without_approval_gets_the_policys_action(action):
    decision = decide_workflow_run(policy(action), facts())
    assert decision.action == action
    assert decision.changed == (".github/workflows/ci.yml",)
    assert decision.reasons


def test_an_approved_head_runs():
    assert decide_workflow_run(policy(), facts(head_approved=True)).action == "none"


def test_no_ci_change_runs():
    assert decide_workflow_run(policy(), facts(files=("src/app.py",))).action == "none"


def test_a_human_change_to_ci_runs():
    human = account("dana")
    decision = decide_workflow_run(
        policy(),
        facts(
            actor=human,
            triggering_actor=human,
            pull_author=human,
            commits=(commit("a" * 40, "dana"),),
        ),
    )
    assert decision.action == "none"
    assert decision.reasons == ()


@pytest.mark.parametrize(
    "override",
    [
        {"commits": (commit("a" * 40, "dana", "ci-agent-9"),)},  # an agent's commit
        {"head_branch": "agents/ci/tok123/x", "agent_link": agent_link()},  # an agent token
        {"triggering_actor": account(APP_BOT)},  # started by an agent token
        {"commits": None},  # commits unknown: an agent's cannot be ruled out
    ],
)
def test_any_agent_involvement_counts_even_when_a_human_runs_it(override):
    human = account("dana")
    base = {"actor": human, "triggering_actor": human, "pull_author": human}
    base["commits"] = (commit("a" * 40, "dana"),)
    decision = decide_workflow_run(policy(), facts(**{**base, **override}))
    assert decision.action == "cancel"


def test_unknown_files_are_treated_as_a_ci_change():
    decision = decide_workflow_run(policy(), facts(files=None))
    assert decision.action == "cancel"


def test_paths_cannot_break_out_of_their_code_spans():
    decision = decide_workflow_run(policy(), facts(files=(".github/workflows/`@boss`.yml",)))
    assert "`@boss`" not in decision.explanation
