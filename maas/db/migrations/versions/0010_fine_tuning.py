"""Tenant fine-tuning: uploaded training files, the job queue and each job's events; the
seeded plans get their fine-tuning limits.

Revision ID: 0010
Revises: 0009
"""

import json

import sqlalchemy as sa
from alembic import op

from maas.db.migrations.seed import FINE_TUNING_LIMITS

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "fine_tune_files",
        sa.Column("id", sa.String(64), primary_key=True),
        _tenant(),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("estimated_tokens", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_fine_tune_files_tenant_created", "fine_tune_files",
                    ["tenant_id", "created_at"])
    op.create_table(
        "fine_tune_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        _tenant(),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("base_model", sa.String(128), nullable=False),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("suffix", sa.String(64), nullable=True),
        sa.Column("training_file", sa.String(64), nullable=False),
        sa.Column("validation_file", sa.String(64), nullable=True),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("estimated_tokens", sa.Integer(), nullable=False),
        sa.Column("trained_tokens", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("fine_tuned_model", sa.String(128), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("usage_id", sa.String(64), nullable=True),
        sa.Column("runner_id", sa.String(128), nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_fine_tune_jobs_tenant_created", "fine_tune_jobs",
                    ["tenant_id", "created_at"])
    op.create_index("ix_fine_tune_jobs_status_created", "fine_tune_jobs",
                    ["status", "created_at"])
    op.create_table(
        "fine_tune_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("job_id", sa.String(64), sa.ForeignKey("fine_tune_jobs.id"), nullable=False),
        _tenant(),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_fine_tune_events_job_id", "fine_tune_events", ["job_id", "id"])
    op.create_index("ix_fine_tune_events_tenant_id", "fine_tune_events", ["tenant_id"])
    _seed_plan_limits()


def _seed_plan_limits() -> None:
    """Give the seeded plans their fine-tuning limits, keeping any an admin already set."""
    conn = op.get_bind()
    for plan_id, extra in FINE_TUNING_LIMITS.items():
        row = conn.execute(sa.text("SELECT limits FROM plans WHERE id = :id"),
                           {"id": plan_id}).first()
        if row is None:
            continue
        limits = row[0] if isinstance(row[0], dict) else json.loads(row[0] or "{}")
        merged = {**extra, **limits}
        if merged != limits:
            conn.execute(sa.text("UPDATE plans SET limits = :limits WHERE id = :id"),
                         {"id": plan_id, "limits": json.dumps(merged)})


def downgrade() -> None:
    for table in ("fine_tune_events", "fine_tune_jobs", "fine_tune_files"):
        op.drop_table(table)
