"""token broker: minted agent tokens and escalations

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("on_behalf_of", sa.String(100), nullable=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("branch_prefix", sa.String(300), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("escalation_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoke_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("github_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(200), nullable=True),
    )
    op.create_index("ix_agent_tokens_repository", "agent_tokens", ["repository"])
    op.create_index("ix_agent_tokens_subject", "agent_tokens", ["subject"])
    op.create_index("ix_agent_tokens_revoke_at", "agent_tokens", ["revoke_at"])
    op.create_table(
        "escalations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("on_behalf_of", sa.String(100), nullable=True),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_escalations_repository", "escalations", ["repository"])
    op.create_index("ix_escalations_issue_number", "escalations", ["issue_number"])


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_table("agent_tokens")
