"""SQLModel tables. Every tenant-owned row carries an indexed `tenant_id`.

Schema changes go through Alembic (`maas/db/migrations/versions`); these classes are the
ORM view of that schema and must stay in step with the latest migration (a test checks).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    is_platform: bool = False
    plan_id: str = Field(default="free", foreign_key="plans.id", max_length=64)
    industry: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


def _json(nullable: bool = False) -> Column:
    return Column(JSON, nullable=nullable)


def _money() -> Column:
    """Amounts are integer micro-credits (1 credit = 1_000_000): exact sums, no floats."""
    return Column(BigInteger, nullable=False)


class Plan(SQLModel, table=True):
    """A tenant's plan: its `Limits` and how it pays (prepaid credits or postpaid invoice)."""

    __tablename__ = "plans"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    billing: str = Field(default="prepaid", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class User(SQLModel, table=True):
    """A person who signs in to the console. Passwords are stored as Argon2id hashes."""

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=64)
    email: str = Field(unique=True, index=True, max_length=320)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=256)
    is_platform_admin: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class Membership(SQLModel, table=True):
    """A user's role in one tenant (Dify's tenant/member pattern)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_membership"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    role: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class UserSession(SQLModel, table=True):
    """A signed-in console session; only the token's SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: str = Field(primary_key=True, max_length=64)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class ApiKey(SQLModel, table=True):
    """An API key. Only the SHA-256 of the secret is stored; `prefix` is for display.

    Scope: `allowed_models` / `allowed_apps` (None = whatever the tenant may use) and
    `limits` (stricter than the plan, never looser). A rotated key keeps working until
    `expires_at` (its grace period) and points at its successor with `replaced_by`.
    """

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=32)
    key_hash: str = Field(unique=True, index=True, max_length=64)
    role: str = Field(default="member", max_length=32)
    user_id: str | None = Field(default=None, foreign_key="users.id", max_length=64)
    created_by: str | None = Field(default=None, max_length=64)
    allowed_models: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    allowed_apps: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    limits: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    replaced_by: str | None = Field(default=None, max_length=64)


class ModelRecord(SQLModel, table=True):
    """The model registry: a manifest's facts plus what this deployment made of it.

    Rows with an `owner` are tenants' private (fine-tuned) models: their manifest lives only
    here (there is no YAML), and only the owner tenant sees them.
    """

    __tablename__ = "models"

    id: str = Field(primary_key=True, max_length=128)
    owner: str | None = Field(default=None, foreign_key="tenants.id", index=True, max_length=64)
    kind: str = Field(max_length=32)
    family: str = Field(max_length=64)
    version: str = Field(max_length=32)
    industries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    context_length: int
    pricing: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    enabled: bool = True
    engine: str | None = Field(default=None, max_length=32)
    endpoint: str | None = Field(default=None, max_length=500)
    status: str = Field(default="loading", max_length=32)
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = Field(default_factory=utcnow)


class CreditLot(SQLModel, table=True):
    """Credits from one grant or voucher, with that source's expiry and restrictions."""

    __tablename__ = "credit_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="ck_lot_remaining"),
        CheckConstraint("held >= 0", name="ck_lot_held"),
    )

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    source: str = Field(max_length=16)  # grant | voucher
    voucher_id: str | None = Field(default=None, max_length=64)
    amount: int = Field(default=0, sa_column=_money())
    remaining: int = Field(default=0, sa_column=_money())
    held: int = Field(default=0, sa_column=_money())
    expires_at: datetime | None = None
    restrict_models: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    restrict_industries: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    expired_at: datetime | None = None


class CreditHold(SQLModel, table=True):
    """Credits reserved for one in-flight request, and the lots they came from."""

    __tablename__ = "credit_holds"

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    amount: int = Field(default=0, sa_column=_money())
    allocations: dict[str, int] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow)


class LedgerEntry(SQLModel, table=True):
    """Append-only record of every credit movement: grant, redeem, debit, expire."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_tenant_created", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    kind: str = Field(max_length=16)
    amount: int = Field(default=0, sa_column=_money())  # signed: + in, - out
    lot_id: str | None = Field(default=None, max_length=64)
    usage_id: str | None = Field(default=None, index=True, max_length=64)
    voucher_id: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)


class VoucherBatch(SQLModel, table=True):
    """A batch of vouchers issued by a platform admin (the "AI voucher" scheme)."""

    __tablename__ = "voucher_batches"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    issuer: str = Field(max_length=200)
    amount: int = Field(default=0, sa_column=_money())  # per voucher
    count: int
    expires_at: datetime | None = None
    credit_days: int | None = None  # credits expire this many days after redemption
    restrict_models: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    restrict_industries: list[str] | None = Field(default=None, sa_column=_json(nullable=True))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Voucher(SQLModel, table=True):
    """One redeemable code; like keys, only its SHA-256 is stored."""

    __tablename__ = "vouchers"

    id: str = Field(primary_key=True, max_length=64)
    batch_id: str = Field(foreign_key="voucher_batches.id", index=True, max_length=64)
    code_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=32)
    redeemed_by: str | None = Field(default=None, foreign_key="tenants.id", max_length=64)
    redeemed_at: datetime | None = None
    lot_id: str | None = Field(default=None, max_length=64)


class QuotaCounter(SQLModel, table=True):
    """Tokens used and held per scope ("tenant:x" / "key:y") per calendar month (UTC)."""

    __tablename__ = "quota_counters"

    scope: str = Field(primary_key=True, max_length=128)
    period: str = Field(primary_key=True, max_length=7)  # YYYY-MM
    used: int = Field(default=0, sa_column=_money())
    held: int = Field(default=0, sa_column=_money())


class UsageRecord(SQLModel, table=True):
    """One row per `/v1` request that reached metering, whatever its outcome."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    request_id: str | None = Field(default=None, max_length=128)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    key_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    model_id: str = Field(max_length=128)
    app_id: str | None = Field(default=None, max_length=128)
    endpoint: str = Field(max_length=32)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: int = Field(default=0, sa_column=_money())
    latency_ms: int = 0
    status: int = 200
    outcome: str = Field(default="ok", max_length=16)  # ok | error | cancelled
    estimated: bool = False  # token counts estimated by the gateway (client went away)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only log of security-relevant actions; tenant admins read their tenant's."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_tenant_created", "tenant_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str | None = Field(default=None, max_length=64)
    actor_key_id: str | None = Field(default=None, max_length=64)
    actor_user_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    target_type: str = Field(max_length=32)
    target_id: str | None = Field(default=None, max_length=128)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow)


class KnowledgeBase(SQLModel, table=True):
    """A knowledge base: a platform one (`tenant_id` None, from `knowledge_bases/`) or a
    tenant's own. Its index lives on disk under the data dir; this row is its catalogue."""

    __tablename__ = "knowledge_bases"

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", index=True,
                                  max_length=64)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    name_zh: str | None = Field(default=None, max_length=200)
    description_zh: str | None = Field(default=None, max_length=2000)
    industry: str | None = Field(default=None, max_length=64)
    embedding_model: str = Field(max_length=128)
    status: str = Field(default="empty", max_length=16)  # empty | building | ready | failed
    documents: int = 0
    chunks: int = 0
    version: str | None = Field(default=None, max_length=64)
    source_hash: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class KnowledgeDocument(SQLModel, table=True):
    """One document of a knowledge base; its chunks and vectors are files on disk."""

    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("kb_id", "name", name="uq_kb_document_name"),)

    id: str = Field(primary_key=True, max_length=64)
    kb_id: str = Field(foreign_key="knowledge_bases.id", index=True, max_length=64)
    tenant_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    size: int = 0
    sha256: str = Field(max_length=64)
    chunks: int = 0
    pages: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class App(SQLModel, table=True):
    """An app in the store: a platform one (`tenant_id` None, from `apps/`) or a tenant's
    own. `status` says who sees it: `listed` everyone; `private`, `pending` (submitted
    for listing) and `rejected` only the owner tenant; `withdrawn` nobody (a platform
    app whose folder was removed)."""

    __tablename__ = "apps"

    slug: str = Field(primary_key=True, max_length=64)
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", index=True,
                                  max_length=64)
    version: str = Field(max_length=32)
    industry: str = Field(max_length=64)
    category: str = Field(max_length=40)
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    readme: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="private", max_length=16)
    #: A listed app's next version, waiting beside the live one until it is approved:
    #: {version, manifest, prompt, readme, submitted, by}.
    pending: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    review_reason: str | None = Field(default=None, max_length=2000)
    reviewed_by: str | None = Field(default=None, max_length=64)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AppVersion(SQLModel, table=True):
    """Every published version of an app, kept for the catalogue's history."""

    __tablename__ = "app_versions"
    __table_args__ = (UniqueConstraint("slug", "version", name="uq_app_version"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(foreign_key="apps.slug", index=True, max_length=64)
    version: str = Field(max_length=32)
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    readme: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class AppSubscription(SQLModel, table=True):
    """A tenant's subscription to an app (Dify's `InstalledApp`): its settings within the
    app's allowed range, and for monthly apps the end of the paid period."""

    __tablename__ = "app_subscriptions"
    __table_args__ = (UniqueConstraint("tenant_id", "app_slug", name="uq_subscription"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    app_slug: str = Field(foreign_key="apps.slug", index=True, max_length=64)
    settings: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    paid_until: datetime | None = None
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AppRun(SQLModel, table=True):
    """One run of an app: its input, every step the agent took (the trace), the output,
    and what it used. The tenant that ran it reads it; nobody else."""

    __tablename__ = "app_runs"
    __table_args__ = (Index("ix_app_runs_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    app_slug: str = Field(index=True, max_length=64)
    app_version: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # chat | form
    key_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=128)
    status: str = Field(default="running", max_length=16)  # running | ok | error | cancelled
    input: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    output: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    steps: list[dict[str, Any]] = Field(default_factory=list,
                                        sa_column=Column(JSON, nullable=False))
    citations: list[dict[str, Any]] = Field(default_factory=list,
                                            sa_column=Column(JSON, nullable=False))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: int = Field(default=0, sa_column=_money())
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class ThingModelRecord(SQLModel, table=True):
    """A tenant's device thing model; its documents are the versions below, never edited
    in place, so any two can be diffed."""

    __tablename__ = "thing_models"
    __table_args__ = (UniqueConstraint("tenant_id", "identifier", name="uq_thing_model"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    identifier: str = Field(max_length=64)
    name: str = Field(max_length=200)
    latest_version: int = 1
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ThingModelVersion(SQLModel, table=True):
    """One version of a thing model: the platform document and where it came from."""

    __tablename__ = "thing_model_versions"
    __table_args__ = (UniqueConstraint("thing_model_id", "version",
                                       name="uq_thing_model_version"),)

    id: int | None = Field(default=None, primary_key=True)
    thing_model_id: str = Field(foreign_key="thing_models.id", index=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    version: int
    document: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    #: {kind: description|datasheet|document|register_map|manual, model, notes, excerpt}
    source: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    comment: str = Field(default="", max_length=500)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ParserBuildRecord(SQLModel, table=True):
    """A generated protocol-parser package, its sandboxed test run and the zip to download."""

    __tablename__ = "parser_builds"
    __table_args__ = (Index("ix_parser_builds_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    kind: str = Field(max_length=16)  # modbus | frame
    package: str = Field(max_length=64)
    source_name: str = Field(max_length=255)
    thing_model_id: str | None = Field(default=None, max_length=64)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    files: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    passed: bool = False
    isolation: str = Field(max_length=16)
    test_output: str = Field(default="", sa_column=Column(Text, nullable=False))
    archive: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class AssessmentRecord(SQLModel, table=True):
    """A transformation diagnosis: the answers, the deterministic scores, the matched
    support with citations and the model-written narrative; the report is rendered from
    these on request."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    questionnaire: str = Field(max_length=64)
    company: str = Field(max_length=200)
    language: str = Field(max_length=8)
    model: str | None = Field(default=None, max_length=128)
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    result: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    matches: list[dict[str, Any]] = Field(default_factory=list,
                                          sa_column=Column(JSON, nullable=False))
    narrative: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    total: float = 0.0
    level: int = 0
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class FactorySessionRecord(SQLModel, table=True):
    """A software-factory conversation: the current spec and which version was confirmed."""

    __tablename__ = "factory_sessions"
    __table_args__ = (Index("ix_factory_sessions_tenant_updated", "tenant_id", "updated_at"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    title: str = Field(default="", max_length=200)
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    spec_version: int = 1
    confirmed_version: int | None = None
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FactoryMessageRecord(SQLModel, table=True):
    """One message of a factory conversation (the user's or the factory's reply)."""

    __tablename__ = "factory_messages"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="factory_sessions.id", max_length=64, index=True)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64, index=True)
    role: str = Field(max_length=16)  # user | assistant
    content: str = Field(sa_column=Column(Text, nullable=False))
    spec_version: int
    created_at: datetime = Field(default_factory=utcnow)


class FactorySpecVersion(SQLModel, table=True):
    """A spec as it stood after a change; versions are never edited."""

    __tablename__ = "factory_spec_versions"
    __table_args__ = (UniqueConstraint("session_id", "version", name="uq_factory_spec_version"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="factory_sessions.id", max_length=64, index=True)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64, index=True)
    version: int
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    changes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class FactoryBuildRecord(SQLModel, table=True):
    """A project generated from a confirmed spec version, its sandboxed test run and zip."""

    __tablename__ = "factory_builds"
    __table_args__ = (Index("ix_factory_builds_session_created", "session_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(foreign_key="factory_sessions.id", max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64, index=True)
    spec_version: int
    package: str = Field(max_length=64)
    files: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    passed: bool = False
    isolation: str = Field(max_length=16)
    test_output: str = Field(default="", sa_column=Column(Text, nullable=False))
    archive: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    published_app: str | None = Field(default=None, max_length=64)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class FineTuneFile(SQLModel, table=True):
    """A tenant's uploaded training file (`/v1/files`, purpose fine-tune). Its lines were all
    valid chats when it was stored; the content lives under the data dir at `path`."""

    __tablename__ = "fine_tune_files"
    __table_args__ = (Index("ix_fine_tune_files_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    filename: str = Field(max_length=255)
    purpose: str = Field(max_length=32)
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    examples: int = 0
    estimated_tokens: int = 0
    path: str = Field(max_length=512)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class FineTuneJob(SQLModel, table=True):
    """A tenant's fine-tuning job: a row in the queue that gateways claim (`runner_id`,
    refreshed `heartbeat_at`), then its progress, result and error."""

    __tablename__ = "fine_tune_jobs"
    __table_args__ = (Index("ix_fine_tune_jobs_tenant_created", "tenant_id", "created_at"),
                      Index("ix_fine_tune_jobs_status_created", "status", "created_at"))

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64)
    created_by: str | None = Field(default=None, max_length=64)
    key_id: str | None = Field(default=None, max_length=64)
    user_id: str | None = Field(default=None, max_length=64)
    base_model: str = Field(max_length=128)
    model_id: str = Field(max_length=128)  # the private model's id once it succeeds
    suffix: str | None = Field(default=None, max_length=64)
    training_file: str = Field(max_length=64)
    validation_file: str | None = Field(default=None, max_length=64)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    seed: int = 0
    status: str = Field(default="queued", max_length=24)
    estimated_tokens: int = 0
    trained_tokens: int | None = None
    step: int = 0
    total_steps: int = 0
    fine_tuned_model: str | None = Field(default=None, max_length=128)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    error: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    usage_id: str | None = Field(default=None, max_length=64)
    runner_id: str | None = Field(default=None, max_length=128)
    heartbeat_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class FineTuneEvent(SQLModel, table=True):
    """One line of a job's log (queued, started, step N/M loss, eval, the end)."""

    __tablename__ = "fine_tune_events"
    __table_args__ = (Index("ix_fine_tune_events_job_id", "job_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(foreign_key="fine_tune_jobs.id", max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", max_length=64, index=True)
    level: str = Field(default="info", max_length=8)  # info | warn | error
    type: str = Field(default="message", max_length=16)  # message | metrics
    message: str = Field(sa_column=Column(Text, nullable=False))
    data: dict[str, Any] | None = Field(default=None, sa_column=_json(nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
