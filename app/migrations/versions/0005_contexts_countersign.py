"""contexts: only human approvals countersign; re-judge the heads recorded before

Until this revision every `success` of the merge gate was recorded as a countersigned
head, including "no agent involvement" and "no rule applies". Each recorded head keeps its
countersignature only when the gate's latest `success` on it (its `gate.evaluated` audit
event) passed a rule on approvals it counted, in every pull request the result spoke
for; a merge keeps it only when its head does. Data only, and irreversible: a downgrade
leaves the stricter records as they are.

Revision ID: 0005_contexts
Revises: 0004
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_contexts"
down_revision = "0004"
branch_labels = None
depends_on = "0002"  # reads audit_events

PULL_ROOT = "merge gate"  # app/policy/evaluate.py ROOT_NAME when this was written


def _pull_roots(node: dict[str, Any]) -> list[dict[str, Any]]:
    if node.get("name") == PULL_ROOT:
        return [node]
    return [root for child in node.get("children") or () for root in _pull_roots(child)]


def _approved(root: dict[str, Any]) -> bool:
    return root.get("status") == "pass" and any(
        rule.get("status") == "pass" and any(a.get("counted") for a in rule.get("approvals") or ())
        for rule in root.get("children") or ()
    )


def human_countersigned(result: dict[str, Any]) -> bool:
    """`app.deploy.provenance.human_countersigned` over a stored result, as of this revision."""
    if result.get("conclusion") != "success":
        return False
    roots = _pull_roots(result.get("root") or {})
    return bool(roots) and all(_approved(root) for root in roots)


def upgrade() -> None:
    conn = op.get_bind()
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    events = conn.execute(
        sa.text(
            "SELECT repository, data FROM audit_events WHERE type = 'gate.evaluated' ORDER BY seq"
        )
    )
    for repository, raw in events:
        data = json.loads(raw) if isinstance(raw, str) else raw
        result = (data or {}).get("result") or {}
        if repository and data.get("head_sha") and result.get("conclusion") == "success":
            latest[(repository.lower(), data["head_sha"])] = result
    heads = conn.execute(
        sa.text(
            "SELECT id, repository, sha FROM commit_provenance "
            "WHERE kind = 'head' AND gate_passed = :yes"
        ),
        {"yes": True},
    ).all()
    revoked = [
        row.id
        for row in heads
        if not human_countersigned(latest.get((row.repository, row.sha)) or {})
    ]
    for row_id in revoked:
        conn.execute(
            sa.text("UPDATE commit_provenance SET gate_passed = :no WHERE id = :id"),
            {"no": False, "id": row_id},
        )
    conn.execute(
        sa.text(
            "UPDATE commit_provenance SET gate_passed = :no WHERE kind = 'merge' AND NOT EXISTS "
            "(SELECT 1 FROM commit_provenance AS head WHERE head.kind = 'head' "
            "AND head.repository = commit_provenance.repository "
            "AND head.sha = commit_provenance.head_sha AND head.gate_passed = :yes)"
        ),
        {"no": False, "yes": True},
    )


def downgrade() -> None:
    """Irreversible data change: the stricter records stay."""
