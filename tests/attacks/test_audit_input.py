"""Attack 8: text the agent chooses must not silence the audit (DESIGN invariant 13).

An agent holding a brokered token (on GitHub: this app's bot) pushes to a branch whose
name looks like a GitHub token, outside any agent token's prefix. The push guard must
still record `push.flagged` and open the flag issue; the token-looking text is redacted
in the audit log and the event says where.
"""

from __future__ import annotations

from tests.attacks.helpers import app_bot, audit_events, issues
from tests.unit.github.conftest import REPO, Gate

TOKEN_LIKE = "ghs_" + "A1b2C3d4E5" * 4


def test_a_token_shaped_branch_name_is_flagged_and_audited_redacted(gate: Gate):
    branch = f"fix/{TOKEN_LIKE}"
    after = gate.simulator.push_branch(REPO, branch, {"a.py": "1\n"}, pusher=app_bot(gate))
    gate.deliver("push")

    [flagged] = audit_events(gate, "push.flagged")
    assert flagged.subject == f"{REPO}@{after}"
    assert "outside any agent token's branch prefix" in flagged.reason
    assert "data.ref" in flagged.data["redacted"]
    assert "reason" in flagged.data["redacted"]
    assert flagged.data["ref"].startswith("refs/heads/fix/[redacted sha256:")
    for event in audit_events(gate):
        assert TOKEN_LIKE not in repr(
            (event.reason, event.subject, event.key, event.actor, event.data)
        )
    [issue] = issues(gate, REPO)
    assert "flagged agent activity" in issue.title


def test_two_token_shaped_branches_make_two_events(gate: Gate):
    """Redaction keeps distinct values distinct: the second push is no duplicate."""
    bot = app_bot(gate)
    for suffix in ("A", "B"):
        gate.simulator.push_branch(REPO, f"x/ghs_{suffix * 30}", {"a.py": suffix}, pusher=bot)
        gate.deliver("push")
    assert len(audit_events(gate, "push.flagged")) == 2


def test_a_reason_longer_than_the_audit_limit_is_shortened_not_dropped(gate: Gate):
    branch = "long/" + "x" * 2100
    gate.simulator.push_branch(REPO, branch, {"a.py": "1\n"}, pusher=app_bot(gate))
    gate.deliver("push")
    [flagged] = audit_events(gate, "push.flagged")
    assert len(flagged.reason) <= 2000
    assert "reason" in flagged.data["clipped"]
