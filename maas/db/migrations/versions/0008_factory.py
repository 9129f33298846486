"""The software factory: conversations, spec versions and generated project builds.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False)


def _session() -> sa.Column:
    return sa.Column("session_id", sa.String(64), sa.ForeignKey("factory_sessions.id"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "factory_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        _tenant(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_version", sa.Integer(), nullable=False),
        sa.Column("confirmed_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_factory_sessions_tenant_updated", "factory_sessions",
                    ["tenant_id", "updated_at"])
    op.create_table(
        "factory_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        _session(),
        _tenant(),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("spec_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_factory_messages_session_id", "factory_messages", ["session_id"])
    op.create_index("ix_factory_messages_tenant_id", "factory_messages", ["tenant_id"])
    op.create_table(
        "factory_spec_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        _session(),
        _tenant(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("session_id", "version", name="uq_factory_spec_version"),
    )
    op.create_index("ix_factory_spec_versions_session_id", "factory_spec_versions",
                    ["session_id"])
    op.create_index("ix_factory_spec_versions_tenant_id", "factory_spec_versions", ["tenant_id"])
    op.create_table(
        "factory_builds",
        sa.Column("id", sa.String(64), primary_key=True),
        _session(),
        _tenant(),
        sa.Column("spec_version", sa.Integer(), nullable=False),
        sa.Column("package", sa.String(64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("isolation", sa.String(16), nullable=False),
        sa.Column("test_output", sa.Text(), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("published_app", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_factory_builds_session_created", "factory_builds",
                    ["session_id", "created_at"])
    op.create_index("ix_factory_builds_tenant_id", "factory_builds", ["tenant_id"])


def downgrade() -> None:
    for table in ("factory_builds", "factory_spec_versions", "factory_messages",
                  "factory_sessions"):
        op.drop_table(table)
