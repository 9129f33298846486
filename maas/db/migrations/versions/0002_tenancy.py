"""Tenancy and metering: plans, users, memberships, sessions, key scopes, credits,
vouchers, quota counters, usage records and the audit log.

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from maas.db.migrations.seed import SEED_PLANS

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
MONEY = sa.BigInteger()


def _id(name: str = "id", length: int = 64) -> sa.Column:
    return sa.Column(name, sa.String(length), primary_key=True)


def _tenant_fk(nullable: bool = False) -> sa.Column:
    return sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=nullable)


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("billing", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    now = datetime.now(UTC)
    op.bulk_insert(plans, [{**p, "created_at": now, "updated_at": now} for p in SEED_PLANS])

    with op.batch_alter_table("tenants") as batch:
        # Tenants made before plans existed had no limits and no billing: they keep that
        # on the internal (postpaid, unlimited) plan. New tenants default to `free`.
        batch.add_column(sa.Column("plan_id", sa.String(64), nullable=False,
                                   server_default="internal"))
        batch.add_column(sa.Column("industry", sa.String(64), nullable=True))
        batch.add_column(sa.Column("disabled_at", TS, nullable=True))
        batch.create_foreign_key("fk_tenants_plan_id", "plans", ["plan_id"], ["id"])
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("plan_id", server_default=None)

    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("is_platform_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS, nullable=True),
    )
    op.create_index("ix_users_email", "users", ["email"], unique=True)
    op.create_table(
        "memberships",
        _id(),
        _tenant_fk(),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_membership"),
    )
    op.create_index("ix_memberships_tenant_id", "memberships", ["tenant_id"])
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "user_sessions",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        _tenant_fk(),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_user_sessions_token_hash", "user_sessions", ["token_hash"], unique=True)
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])

    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("user_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("allowed_models", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("allowed_apps", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("replaced_by", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_api_keys_user_id", "users", ["user_id"], ["id"])
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("limits", server_default=None)

    op.create_table(
        "credit_lots",
        _id(),
        _tenant_fk(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("voucher_id", sa.String(64), nullable=True),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("remaining", MONEY, nullable=False),
        sa.Column("held", MONEY, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("restrict_models", sa.JSON(), nullable=True),
        sa.Column("restrict_industries", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expired_at", TS, nullable=True),
        sa.CheckConstraint("remaining >= 0", name="ck_lot_remaining"),
        sa.CheckConstraint("held >= 0", name="ck_lot_held"),
    )
    op.create_index("ix_credit_lots_tenant_id", "credit_lots", ["tenant_id"])
    op.create_table(
        "credit_holds",
        _id(),
        _tenant_fk(),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("allocations", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_credit_holds_tenant_id", "credit_holds", ["tenant_id"])
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant_fk(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("lot_id", sa.String(64), nullable=True),
        sa.Column("usage_id", sa.String(64), nullable=True),
        sa.Column("voucher_id", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(64), nullable=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_ledger_tenant_created", "ledger_entries", ["tenant_id", "created_at"])
    op.create_index("ix_ledger_entries_usage_id", "ledger_entries", ["usage_id"])
    op.create_table(
        "voucher_batches",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("credit_days", sa.Integer(), nullable=True),
        sa.Column("restrict_models", sa.JSON(), nullable=True),
        sa.Column("restrict_industries", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "vouchers",
        _id(),
        sa.Column("batch_id", sa.String(64), sa.ForeignKey("voucher_batches.id"),
                  nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("redeemed_by", sa.String(64), sa.ForeignKey("tenants.id"), nullable=True),
        sa.Column("redeemed_at", TS, nullable=True),
        sa.Column("lot_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_vouchers_batch_id", "vouchers", ["batch_id"])
    op.create_index("ix_vouchers_code_hash", "vouchers", ["code_hash"], unique=True)
    op.create_table(
        "quota_counters",
        sa.Column("scope", sa.String(128), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("used", MONEY, nullable=False),
        sa.Column("held", MONEY, nullable=False),
    )
    op.create_table(
        "usage_records",
        _id(),
        sa.Column("request_id", sa.String(128), nullable=True),
        _tenant_fk(),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("app_id", sa.String(128), nullable=True),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", MONEY, nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_usage_tenant_created", "usage_records", ["tenant_id", "created_at"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("actor_key_id", sa.String(64), nullable=True),
        sa.Column("actor_user_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_audit_tenant_created", "audit_events", ["tenant_id", "created_at"])


def downgrade() -> None:
    for table in ("audit_events", "usage_records", "quota_counters", "vouchers",
                  "voucher_batches", "ledger_entries", "credit_holds", "credit_lots"):
        op.drop_table(table)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("fk_api_keys_user_id", type_="foreignkey")
        for column in ("replaced_by", "limits", "allowed_apps", "allowed_models", "created_by",
                       "user_id"):
            batch.drop_column(column)
    op.drop_table("user_sessions")
    op.drop_table("memberships")
    op.drop_table("users")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_constraint("fk_tenants_plan_id", type_="foreignkey")
        for column in ("disabled_at", "industry", "plan_id"):
            batch.drop_column(column)
    op.drop_table("plans")
