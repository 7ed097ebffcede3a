"""The workflow guard's decision. Pure: facts and policy in, an action out.

A workflow run is stopped (or flagged) when its head involves an agent, changes CI code
(`.github/workflows/**` or `.github/actions/**`) relative to its base, and no human
approved that head through the merge gate. Such a run would execute code an agent wrote
with the repository's secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.deploy.provenance import agent_branch_reason, agent_reason
from app.policy.facts import Account, AgentLink, Commit
from app.policy.globs import any_match
from app.policy.schema import Policy

CI_PATHS = (".github/workflows/**", ".github/actions/**")
Action = Literal["cancel", "flag", "allow", "none"]


def ci_changes(files: tuple[str, ...]) -> tuple[str, ...]:
    """The changed paths that are CI code."""
    return tuple(path for path in files if any_match(CI_PATHS, path))


@dataclass(frozen=True)
class WorkflowRunFacts:
    repository: str
    run_id: int
    head_sha: str
    head_branch: str
    actor: Account | None
    triggering_actor: Account | None
    pull_number: int | None
    pull_author: Account | None
    # What the head changes relative to its base, and the commits it adds: None when
    # they could not be listed completely (then the guard assumes the worst).
    files: tuple[str, ...] | None
    commits: tuple[Commit, ...] | None
    head_approved: bool  # the merge gate passed this head
    app_bot_login: str = "foureyes[bot]"
    agent_link: AgentLink | None = None


@dataclass(frozen=True)
class WorkflowDecision:
    action: Action  # none: nothing to guard (no agent, no CI change, or approved)
    reasons: tuple[str, ...]  # agent involvement
    changed: tuple[str, ...]  # the CI paths changed
    explanation: str


def involvement(policy: Policy, facts: WorkflowRunFacts) -> tuple[str, ...]:
    reasons = []
    for role, account in (
        ("actor", facts.actor),
        ("triggering actor", facts.triggering_actor),
        ("pull request author", facts.pull_author),
    ):
        why = agent_reason(policy, facts.app_bot_login, account)
        if why:
            reasons.append(f"the {role} {why}")
    branch = agent_branch_reason(policy, facts.head_branch, facts.agent_link)
    if branch:
        reasons.append(branch)
    if facts.commits is None:
        reasons.append("the head's commits could not be listed: an agent's cannot be ruled out")
    for commit in facts.commits or ():
        for role, account in (("authored", commit.author), ("committed", commit.committer)):
            if agent_reason(policy, facts.app_bot_login, account):
                reasons.append(f"commit {commit.sha[:7]} was {role} by {account.login}")
    return tuple(dict.fromkeys(reasons))


def decide_workflow_run(policy: Policy, facts: WorkflowRunFacts) -> WorkflowDecision:
    reasons = involvement(policy, facts)
    if facts.files is None:
        changed: tuple[str, ...] = ("(the changed files could not be listed completely)",)
    else:
        changed = ci_changes(facts.files)
    if not reasons or not changed:
        return WorkflowDecision("none", reasons, changed, "no agent-changed CI code")
    if facts.head_approved:
        return WorkflowDecision(
            "none", reasons, changed, "a human approved this head through the merge gate"
        )
    action = policy.workflows.agent_changes
    paths = ", ".join(f"`{path.replace('`', '')}`" for path in changed[:10])
    more = f" and {len(changed) - 10} more" if len(changed) > 10 else ""
    verb = {
        "cancel": "foureyes cancelled this workflow run",
        "flag": "foureyes flags this workflow run (the policy lets it run)",
        "allow": "the policy allows this workflow run",
    }[action]
    explanation = (
        f"{verb}: its head {facts.head_sha[:7]} changes CI code ({paths}{more}), an agent "
        "is involved, and no human has approved this head. CI code runs with the "
        "repository's secrets, so an agent's change to it must be reviewed first. Once a "
        "maintainer approves the pull request at this head, re-run the workflow."
    )
    return WorkflowDecision(action, reasons, changed, explanation)
