"""The merge gate: policy and a facts snapshot in, a decision tree out. Pure: no I/O, no clock.

Semantics (docs/policy.md says the same for users):

- Agent involvement is decided by `agent_involvement`. It is *proven* by an agent
  author, branch, label, commit or token link, *ruled out* when none of those holds
  and the facts are complete, and *unknown* when the facts are incomplete.
- When involvement is ruled out and `merge.gate_humans` is false, the gate passes at
  once ("no gate needed"). Otherwise every rule is judged.
- A rule applies when every key of its `if` matches. A rule with no `if` has
  `{agent: true}`; an explicit `if` without `agent` does not look at agent involvement
  (so with `gate_humans: true` it also gates human pull requests). `agent: true`
  matches proven *or unknown* involvement and `agent: false` matches ruled-out *or
  unknown* involvement, and with incomplete facts `paths` always matches: when a rule
  cannot be proven not to apply, it applies (fail closed).
- An applicable rule passes with `approvals` distinct eligible approvals of the head
  commit on the current base (`app.policy.approvals`) and no eligible reviewer's change
  request standing (a dismissal counts only when an eligible human made it).
- Conclusion: `failure` for an error (a broken policy or facts, an exception),
  `action_required` while any applicable rule waits for a human, else `success`.
  Draft pull requests are judged the same, so the required check never hangs.
"""

from __future__ import annotations

from dataclasses import replace

from app.errors import PolicyError
from app.policy.agents import INCOMPLETE_REASON, agent_involvement, requester_notes
from app.policy.approvals import LINKED_HUMAN, excluded_humans, tally
from app.policy.facts import PullRequestFacts
from app.policy.globs import any_match, login_match
from app.policy.result import Conclusion, Node, Result, Status
from app.policy.schema import Condition, Policy, Rule

ROOT_NAME = "merge gate"


def evaluate(policy: Policy, facts: PullRequestFacts, policy_source: str) -> Result:
    """Judge the pull request in `facts` by `policy`. Never raises: any error becomes a
    `failure` result that names it (fail closed). The result carries the policy's mode:
    the publisher turns an observed result into a `neutral` check (`result.observed`)."""
    try:
        return replace(_evaluate(policy, facts, policy_source), mode=policy.mode)
    except Exception as exc:  # fail closed: an evaluation that broke must never pass
        head_sha = getattr(facts, "head_sha", "")
        return error_result(
            f"{type(exc).__name__}: {exc}",
            policy_source,
            head_sha if isinstance(head_sha, str) else "",
        )


def error_result(message: str, policy_source: str, head_sha: str) -> Result:
    """The blocking result for an evaluation that could not finish."""
    root = Node(
        name=ROOT_NAME,
        status=Status.FAIL,
        description=f"The pull request could not be evaluated: {message}",
        unblock="a foureyes operator: the evaluation fails until the cause is fixed",
    )
    return Result(
        conclusion=Conclusion.FAILURE,
        title="Blocked: the evaluation failed",
        root=root,
        agent_involved=True,
        agent_reasons=("not evaluated: agent involvement cannot be ruled out",),
        policy_source=policy_source,
        head_sha=head_sha,
    )


def policy_error_result(error: PolicyError, source: str, head_sha: str) -> Result:
    """The blocking result for a policy file that cannot be read or is invalid."""
    children = tuple(
        Node(
            name=key_path or "policy file",
            status=Status.FAIL,
            description=f"line {line}: {message}" if line else message,
        )
        for key_path, message, line in error.errors
    )
    count = len(error.errors)
    detail = f" ({count} error{'s' if count != 1 else ''})" if count else ""
    if children:
        description = f"The policy {source} is invalid{detail}: nothing passes until it is fixed"
    else:
        description = f"The policy {source} cannot be used: {error}"
    root = Node(
        name=ROOT_NAME,
        status=Status.FAIL,
        description=description,
        children=children,
        unblock=f"a maintainer fixes {source} on the default branch",
    )
    return Result(
        conclusion=Conclusion.FAILURE,
        title=f"Blocked: the policy is invalid{detail}",
        root=root,
        agent_involved=True,
        agent_reasons=("not evaluated: the policy is invalid",),
        policy_source=source,
        head_sha=head_sha,
    )


def _evaluate(policy: Policy, facts: PullRequestFacts, policy_source: str) -> Result:
    if not facts.head_sha:
        raise ValueError("the head commit is unknown")
    reasons = agent_involvement(policy, facts)
    proven = any(reason != INCOMPLETE_REASON for reason in reasons)
    agent: bool | None = True if proven else (None if not facts.complete else False)

    if agent is False and not policy.merge.gate_humans:
        root = Node(
            name=ROOT_NAME,
            status=Status.PASS,
            description="No agent is involved and merge.gate_humans is false: no gate needed",
        )
        return Result(
            conclusion=Conclusion.SUCCESS,
            title="No agent involvement: no gate needed",
            root=root,
            agent_involved=False,
            policy_source=policy_source,
            head_sha=facts.head_sha,
        )

    judged = [_rule_node(policy, facts, rule, agent) for rule in policy.merge.rules]
    nodes = tuple(node for node, _phrase in judged)
    pending = [node for node in nodes if node.status is Status.PENDING]
    if pending:
        conclusion, status = Conclusion.ACTION_REQUIRED, Status.PENDING
        first_name, first_phrase = next((n.name, p) for n, p in judged if p)
        title = f"Blocked: {first_name} {first_phrase}"
        if len(pending) > 1:
            more = len(pending) - 1
            title += f" (and {more} more rule{'s' if more > 1 else ''})"
    else:
        conclusion, status = Conclusion.SUCCESS, Status.PASS
        title = _success_title(nodes)

    root = Node(
        name=ROOT_NAME,
        status=status,
        description=_root_description(agent, facts),
        children=nodes,
        unblock="; ".join(f"{node.name}: {node.unblock}" for node in pending),
    )
    return Result(
        conclusion=conclusion,
        title=title,
        root=root,
        agent_involved=agent is not False,
        agent_reasons=(*reasons, *requester_notes(policy, facts)),
        policy_source=policy_source,
        head_sha=facts.head_sha,
    )


def _root_description(agent: bool | None, facts: PullRequestFacts) -> str:
    if agent is None:
        return (
            "The commit or file list is incomplete: agent involvement is assumed and every"
            " path condition is treated as matching"
        )
    text = "Agent work" if agent else "No agent involvement (merge.gate_humans is true)"
    if not facts.complete:
        text += "; the file list is incomplete, so every path condition is treated as matching"
    return text


def _success_title(nodes: tuple[Node, ...]) -> str:
    approvers: list[str] = []
    for node in nodes:
        for approval in node.approvals:
            if approval.counted and approval.login not in approvers:
                approvers.append(approval.login)
    if any(node.status is Status.PASS for node in nodes) and approvers:
        return f"Approved by {_join(approvers)}"
    return "No rule applies: no approval needed"


def _rule_node(
    policy: Policy, facts: PullRequestFacts, rule: Rule, agent: bool | None
) -> tuple[Node, str]:
    """The rule's node, and what blocks it in a few words ("" when nothing does)."""
    applies, why = condition_applies(rule.condition, facts, agent)
    if not applies:
        return Node(name=rule.name, status=Status.SKIP, description=f"Does not apply: {why}"), ""
    require = rule.require
    counted = tally(policy, facts, require, agent is not False)
    missing = max(0, require.approvals - len(counted.approvers))
    needs: list[str] = []
    unblock: list[str] = []
    if counted.blockers:
        needs.append(f"has changes requested by {_join(counted.blockers)}")
        unblock.append(
            f"{_join(counted.blockers)} must approve head {facts.head_sha[:7]}"
            " or have their review dismissed"
        )
    if missing:
        needs.append(
            f"needs {missing} more approval{'s' if missing > 1 else ''} ({require.permission})"
        )
        unblock.append(_unblock_approvals(policy, facts, rule, missing, agent is not False))
    got = f"{len(counted.approvers)} of {require.approvals} approvals"
    if counted.approvers:
        got += f" ({_join(counted.approvers)})"
    if needs:
        phrase = " and ".join(needs)
        node = Node(
            name=rule.name,
            status=Status.PENDING,
            description=f"Blocked: {phrase}. Applies: {why}. Counted {got}",
            approvals=counted.considered,
            unblock="; ".join(unblock),
        )
        return node, phrase
    node = Node(
        name=rule.name,
        status=Status.PASS,
        description=f"Satisfied: {got}. Applies: {why}",
        approvals=counted.considered,
    )
    return node, ""


def _unblock_approvals(
    policy: Policy, facts: PullRequestFacts, rule: Rule, missing: int, agent_involved: bool
) -> str:
    require = rule.require
    text = (
        f"{missing} more approval{'s' if missing > 1 else ''} on head {facts.head_sha[:7]}"
        f" from a human with {require.permission} permission"
    )
    if require.teams:
        text += f" in {' or '.join(require.teams)}"
    if require.users:
        text += f" who is one of {', '.join(require.users)}"
    others = ["the author"]
    if not policy.merge.allow_contributors:
        others.append("committers")
    if agent_involved:
        others.extend(
            login if why == LINKED_HUMAN else f"{login} ({why})"
            for login, why in excluded_humans(policy, facts).values()
        )
    return f"{text}, other than {_join(others)}"


def condition_applies(
    condition: Condition, facts: PullRequestFacts, agent: bool | None
) -> tuple[bool, str]:
    """Does a rule's `if` match? Returns the answer and, in words, why (the first key
    that does not match, or every key that does). `agent` is None when involvement is
    unknown; see the module docstring for the fail-closed reading."""
    matched: list[str] = []
    if condition.agent is not None:
        wanted = "agent involvement" if condition.agent else "no agent involvement"
        if agent is None:
            matched.append(f"{wanted} cannot be ruled out")
        elif agent != condition.agent:
            return False, f"the rule is for {wanted}"
        else:
            matched.append(wanted)
    if condition.paths is not None:
        hit = next((f for f in facts.files if any_match(condition.paths, f)), None)
        if not facts.complete:
            matched.append("the file list is incomplete, so if.paths is assumed to match")
        elif hit is None:
            return False, "no changed file matches if.paths"
        else:
            matched.append(f"changed file {hit} matches if.paths")
    checks = (
        ("base", condition.base, (facts.base_ref,), True),
        ("head", condition.head, (facts.head_ref,), True),
        ("labels", condition.labels, facts.labels, False),
    )
    for key, patterns, values, case_sensitive in checks:
        if patterns is None:
            continue
        hit = next(
            (v for v in values if any_match(patterns, v, case_sensitive=case_sensitive)), None
        )
        if hit is None:
            shown = ", ".join(values) or "none"
            return False, f"{key} {shown} does not match if.{key}"
        matched.append(f"{key} {hit} matches if.{key}")
    if condition.authors is not None:
        login = facts.author.login
        if not any(login_match(pattern, login) for pattern in condition.authors):
            return False, f"author {login} does not match if.authors"
        matched.append(f"author {login} matches if.authors")
    return True, ", ".join(matched) or "the rule's if is empty: it always applies"


def _join(items: list[str] | tuple[str, ...]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
