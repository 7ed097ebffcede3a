"""approval binding: the digest of each approval issue's text as foureyes opened it

Revision ID: 0005
Revises: 0004 (and 0003, whose escalations table it alters)
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = "0003"

TABLES = ("escalations", "deployment_reviews")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("issue_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("issue_sha256")
