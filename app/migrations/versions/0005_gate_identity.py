"""merge gate identity: who acted as GitHub reported it, and each pull request's base

Revision ID: 0005_gateid
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_gateid"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acted",
        sa.Column("repository", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("actor", sa.String(100), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pull_bases",
        sa.Column("repository", sa.String(200), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("base_ref", sa.String(300), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pull_bases")
    op.drop_table("acted")
