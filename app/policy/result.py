"""The decision tree the evaluator returns; everything a user reads is rendered from it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a rule status, not a password
    PENDING = "pending"  # a human approval is missing
    FAIL = "fail"  # a violation, or a fact that could not be established
    SKIP = "skip"  # the rule does not apply to this pull request


class Conclusion(StrEnum):
    """The check-run conclusion."""

    SUCCESS = "success"
    ACTION_REQUIRED = "action_required"
    FAILURE = "failure"
    NEUTRAL = "neutral"  # observe mode only: what would have been done, enforcing nothing


@dataclass(frozen=True)
class Approval:
    """One review considered by a rule: counted, or ignored with the reason."""

    login: str
    counted: bool
    reason: str  # why it counts ("write permission, reviewed head abc1234") or not


@dataclass(frozen=True)
class Node:
    name: str
    status: Status
    description: str
    children: tuple[Node, ...] = ()
    approvals: tuple[Approval, ...] = ()
    # who can unblock this node, in words: "1 more approval from a user with write permission"
    unblock: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Result:
    conclusion: Conclusion
    title: str  # one line: the check run's title
    root: Node
    agent_involved: bool
    agent_reasons: tuple[str, ...] = ()
    policy_source: str = ""  # "owner/repo:.github/foureyes.yml@<sha>", "org default", "built-in"
    head_sha: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    mode: str = "enforce"  # the policy's mode; a result whose policy is unknown enforces

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conclusion"] = str(self.conclusion)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        def node(item: dict[str, Any]) -> Node:
            return Node(
                name=item["name"],
                status=Status(item["status"]),
                description=item["description"],
                children=tuple(node(child) for child in item.get("children", ())),
                approvals=tuple(Approval(**a) for a in item.get("approvals", ())),
                unblock=item.get("unblock", ""),
            )

        return cls(
            conclusion=Conclusion(data["conclusion"]),
            title=data["title"],
            root=node(data["root"]),
            agent_involved=data["agent_involved"],
            agent_reasons=tuple(data.get("agent_reasons", ())),
            policy_source=data.get("policy_source", ""),
            head_sha=data.get("head_sha", ""),
            extra=data.get("extra", {}),
            mode=data.get("mode", "enforce"),
        )


def observed(result: Result) -> Result:
    """What observe mode publishes: the same explanation, concluding `neutral`, titled by
    what enforcing would have done ("Would block: ...", "Would pass: ...")."""
    verdict = "Would pass" if result.conclusion == Conclusion.SUCCESS else "Would block"
    title = result.title.removeprefix("Blocked: ").removeprefix("Blocked ")
    root = Node(
        name="observe mode",
        status=Status.SKIP,
        description=(
            f"The policy's mode is observe: foureyes enforces nothing. Enforcing, the check"
            f" would conclude {result.conclusion}: {result.title}"
        ),
        children=(result.root,),
    )
    return replace(
        result,
        conclusion=Conclusion.NEUTRAL,
        title=f"{verdict}: {title}"[:200],
        root=root,
        extra={**result.extra, "verdict": str(result.conclusion)},
    )
