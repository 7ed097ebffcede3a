"""deployment and workflow guard: commit provenance, deployment reviews, push-flag issues

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commit_provenance",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("sha", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("pull_number", sa.Integer(), nullable=True),
        sa.Column("head_sha", sa.String(40), nullable=True),
        sa.Column("merged_by", sa.String(100), nullable=True),
        sa.Column("gate_passed", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("repository", "sha", "kind"),
    )
    op.create_index("ix_commit_provenance_repository", "commit_provenance", ["repository"])
    op.create_index("ix_commit_provenance_sha", "commit_provenance", ["sha"])
    op.create_table(
        "deployment_reviews",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("installation_id", sa.BigInteger(), nullable=False),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(255), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("deployment_id", sa.BigInteger(), nullable=True),
        sa.Column("sha", sa.String(40), nullable=False),
        sa.Column("ref", sa.String(300), nullable=False),
        sa.Column("creator", sa.String(100), nullable=True),
        sa.Column("triggering_actor", sa.String(100), nullable=True),
        sa.Column("agent", sa.String(600), nullable=True),
        sa.Column("on_behalf_of", sa.String(100), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("issue_number", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("repository", "run_id", "environment"),
    )
    op.create_index("ix_deployment_reviews_repository", "deployment_reviews", ["repository"])
    op.create_index("ix_deployment_reviews_issue_number", "deployment_reviews", ["issue_number"])
    op.create_index("ix_deployment_reviews_expires_at", "deployment_reviews", ["expires_at"])
    op.create_table(
        "push_flag_issues",
        sa.Column("repository", sa.String(200), primary_key=True),
        sa.Column("agent", sa.String(600), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("issue_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("push_flag_issues")
    op.drop_table("deployment_reviews")
    op.drop_table("commit_provenance")
