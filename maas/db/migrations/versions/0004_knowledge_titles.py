"""Chinese titles and descriptions for knowledge bases (platform ones carry both).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_bases") as batch:
        batch.add_column(sa.Column("name_zh", sa.String(200), nullable=True))
        batch.add_column(sa.Column("description_zh", sa.String(2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_bases") as batch:
        batch.drop_column("description_zh")
        batch.drop_column("name_zh")
