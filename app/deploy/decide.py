"""The deployment protection rule's decision. Pure: facts and policy in, an answer out.

A deployment is agent-involved when its creator or the workflow run's triggering actor
is an agent, when its ref is an agent branch, or when its commit lacks reviewed
provenance. A deployment without agent involvement is approved at once; otherwise the
first `deployments` entry matching the environment decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from app.deploy.provenance import Provenance, agent_branch_reason, agent_reason
from app.policy.facts import Account, AgentLink
from app.policy.schema import DeploymentVerdict, Policy, match_deployment

# "observed": approved in observe mode, where enforcing would have rejected or held it.
State = Literal["approved", "rejected", "pending", "observed"]


@dataclass(frozen=True)
class DeploymentFacts:
    repository: str
    environment: str
    sha: str
    ref: str
    creator: Account | None
    triggering_actor: Account | None
    provenance: Provenance
    app_bot_login: str = "foureyes[bot]"
    agent_link: AgentLink | None = None


@dataclass(frozen=True)
class DeploymentDecision:
    state: State
    verdict: DeploymentVerdict | None  # the policy's verdict; None without agent involvement
    reasons: tuple[str, ...]  # why the deployment is agent-involved; empty when it is not
    comment: str  # what GitHub shows on the deployment

    @property
    def agent_involved(self) -> bool:
        return bool(self.reasons)


def involvement(policy: Policy, facts: DeploymentFacts) -> tuple[str, ...]:
    """Why the deployment counts as agent work; empty means it does not."""
    reasons = []
    for role, account in (("creator", facts.creator), ("triggering actor", facts.triggering_actor)):
        why = agent_reason(policy, facts.app_bot_login, account)
        if why:
            reasons.append(f"the {role} {why}")
    branch = agent_branch_reason(policy, facts.ref, facts.agent_link)
    if branch:
        reasons.append(branch)
    if not facts.provenance.reviewed:
        reasons.append(facts.provenance.reason)
    return tuple(dict.fromkeys(reasons))


def decide_deployment(policy: Policy, facts: DeploymentFacts) -> DeploymentDecision:
    reasons = involvement(policy, facts)
    where = f"{facts.environment} at {facts.sha[:7]}"
    if not reasons:
        return DeploymentDecision(
            "approved",
            None,
            (),
            f"foureyes: approved. No agent involvement in deploying {where}: "
            f"{facts.provenance.reason}.",
        )
    why = "; ".join(reasons)
    verdict = match_deployment(policy, facts.environment)
    if verdict == "allow":
        text = f"foureyes: approved. The policy allows agent deployments to {facts.environment}"
        return DeploymentDecision("approved", verdict, reasons, f"{text} ({why}).")
    if verdict == "reject":
        return DeploymentDecision(
            "rejected",
            verdict,
            reasons,
            f"foureyes: rejected. The policy rejects agent deployments to "
            f"{facts.environment}, and this one involves an agent: {why}.",
        )
    return DeploymentDecision(
        "pending",
        verdict,
        reasons,
        f"foureyes: waiting for a human. Deploying {where} involves an agent ({why}), "
        "so the policy requires a human's approval.",
    )


def observed_decision(decision: DeploymentDecision) -> DeploymentDecision:
    """Observe mode: the deployment goes ahead, and the answer says what enforcing would
    have done (a rejection, or a hold for a human's approval)."""
    if decision.state == "approved":
        return decision
    would = "rejected it" if decision.state == "rejected" else "held it for a human's approval"
    comment = decision.comment.removeprefix("foureyes: ")
    return replace(
        decision,
        state="observed",
        comment=f"foureyes (observe mode): approved; enforcing would have {would}. {comment}",
    )


def policy_error_decision(error: str) -> DeploymentDecision:
    """Fail closed: without a readable policy nobody can say the deployment is safe."""
    return DeploymentDecision(
        "rejected",
        None,
        ("the policy could not be read",),
        f"foureyes: rejected. The repository's policy is invalid, so no deployment can be "
        f"judged until it is fixed: {error}",
    )


def unreadable_decision(reason: str) -> DeploymentDecision:
    """Fail closed: what the deployment would ship could not be read from GitHub."""
    return DeploymentDecision(
        "rejected",
        None,
        ("what is deployed could not be read from GitHub",),
        f"foureyes: rejected. What this deployment would ship could not be read from "
        f"GitHub, so nobody can say it is safe: {reason}",
    )
