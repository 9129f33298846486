"""The industrial toolbox: tenants' thing models and their versions, generated protocol
parsers, and transformation assessments.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "thing_models",
        sa.Column("id", sa.String(64), primary_key=True),
        _tenant(),
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "identifier", name="uq_thing_model"),
    )
    op.create_index("ix_thing_models_tenant_id", "thing_models", ["tenant_id"])
    op.create_table(
        "thing_model_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("thing_model_id", sa.String(64), sa.ForeignKey("thing_models.id"),
                  nullable=False),
        _tenant(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("thing_model_id", "version", name="uq_thing_model_version"),
    )
    op.create_index("ix_thing_model_versions_thing_model_id", "thing_model_versions",
                    ["thing_model_id"])
    op.create_index("ix_thing_model_versions_tenant_id", "thing_model_versions", ["tenant_id"])
    op.create_table(
        "parser_builds",
        sa.Column("id", sa.String(64), primary_key=True),
        _tenant(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("package", sa.String(64), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("thing_model_id", sa.String(64), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("isolation", sa.String(16), nullable=False),
        sa.Column("test_output", sa.Text(), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_parser_builds_tenant_created", "parser_builds",
                    ["tenant_id", "created_at"])
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(64), primary_key=True),
        _tenant(),
        sa.Column("questionnaire", sa.String(64), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.Column("narrative", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_assessments_tenant_created", "assessments", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_table("assessments")
    op.drop_table("parser_builds")
    op.drop_table("thing_model_versions")
    op.drop_table("thing_models")
