"""`held_to_its_base`: an agent's commit shows `success` only where it was judged."""

from __future__ import annotations

import pytest

from app.contexts import held_to_its_base
from app.policy.result import Conclusion, Node, Result, Status


def verdict(conclusion: Conclusion, agent: bool = True) -> Result:
    root = Node(name="merge policy", status=Status.PASS, description="approved")
    return Result(conclusion, "Approved by maria", root, agent_involved=agent, head_sha="a" * 40)


def test_an_agent_success_into_an_unprotected_other_base_is_held() -> None:
    held = held_to_its_base(verdict(Conclusion.SUCCESS), "scratch", "main", False)
    assert held.conclusion == Conclusion.ACTION_REQUIRED
    assert held.title.startswith("Blocked: passes into scratch only")
    assert held.root.children[0].description == "approved"  # the judgement is kept


@pytest.mark.parametrize(
    ("conclusion", "agent", "base", "protected"),
    [
        (Conclusion.SUCCESS, True, "main", False),  # judged against the default branch
        (Conclusion.SUCCESS, True, "release", True),  # a protected base needs the check
        (Conclusion.SUCCESS, False, "scratch", False),  # no agent involvement
        (Conclusion.ACTION_REQUIRED, True, "scratch", False),  # already blocked
    ],
)
def test_everything_else_is_left_as_judged(
    conclusion: Conclusion, agent: bool, base: str, protected: bool
) -> None:
    original = verdict(conclusion, agent)
    assert held_to_its_base(original, base, "main", protected) is original
