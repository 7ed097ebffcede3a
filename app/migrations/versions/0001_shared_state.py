"""shared state table (the SQL fallback when REDIS_URL is unset)

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shared_state",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False, server_default=""),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_shared_state_expires_at", "shared_state", ["expires_at"])


def downgrade() -> None:
    op.drop_table("shared_state")
