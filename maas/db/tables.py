"""SQLModel tables. Every tenant-owned row carries an indexed `tenant_id`.

Schema changes go through Alembic (`maas/db/migrations/versions`); these classes are the
ORM view of that schema and must stay in step with the latest migration (a test checks).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    is_platform: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key. Only the SHA-256 of the secret is stored; `prefix` is for display."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=64)
    tenant_id: str = Field(foreign_key="tenants.id", index=True, max_length=64)
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=32)
    key_hash: str = Field(unique=True, index=True, max_length=64)
    role: str = Field(default="member", max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class ModelRecord(SQLModel, table=True):
    """The model registry: a manifest's facts plus what this deployment made of it."""

    __tablename__ = "models"

    id: str = Field(primary_key=True, max_length=128)
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
