"""Private models: a model row may belong to one tenant (its fine-tuned models).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_models_owner_tenants", "tenants", ["owner"], ["id"])
        batch.create_index("ix_models_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_index("ix_models_owner")
        batch.drop_constraint("fk_models_owner_tenants", type_="foreignkey")
        batch.drop_column("owner")
