"""The ORM tables and the Alembic migrations describe the same schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from maas.db import tables  # noqa: F401 - registers the tables
from maas.db.database import Database


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_upgrade_keeps_existing_rows(tmp_path: Path) -> None:
    """A database made before tenancy (0001) upgrades with its rows intact; its tenants
    keep working as before, on the unlimited postpaid plan."""
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.upgrade("0001")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants VALUES ('acme', 'ACME', 0, '2026-01-01')"))
        conn.execute(text("INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, "
                          "created_at) VALUES ('k1', 'acme', 'ci', 'sk-maas-', 'h', "
                          "'member', '2026-01-01')"))
    db.upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT plan_id FROM tenants")).scalar() == "internal"
        assert conn.execute(text("SELECT limits FROM api_keys")).scalar() == "{}"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on for the app
