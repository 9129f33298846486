"""API keys are stored only as hashes, shown once, and stop working when revoked/expired."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from maas.db.database import Database
from maas.db.tables import ApiKey, utcnow
from maas.errors import InvalidRequest, NotFound
from maas.settings import Settings
from maas.tenancy.bootstrap import ADMIN_KEY_ID, DEFAULT_TENANT, bootstrap
from maas.tenancy.keys import authenticate, create_key, hash_secret, list_keys, revoke_key


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'k.db'}")
    database.upgrade()
    return database


def test_generated_admin_key_is_stored_hashed_and_printed_once(db: Database,
                                                                tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", _env_file=None)
    with db.session() as s:
        first = bootstrap(s, settings)
    assert first.generated_admin_key and first.generated_admin_key.startswith("sk-maas-")
    mode = stat.S_IMODE(settings.admin_key_file.stat().st_mode)
    assert mode == 0o600
    with db.session() as s:
        assert bootstrap(s, settings).generated_admin_key is None  # not again
        record = s.get(ApiKey, ADMIN_KEY_ID)
        assert record.key_hash == hash_secret(first.generated_admin_key)
        assert first.generated_admin_key not in str(record.model_dump())
        principal = authenticate(s, first.generated_admin_key)
    assert principal and principal.is_platform_admin


def test_env_admin_key_replaces_previous(db: Database, tmp_path: Path) -> None:
    for secret in ("sk-maas-one-aaaaaaaaaaaa", "sk-maas-two-bbbbbbbbbbbb"):
        with db.session() as s:
            bootstrap(s, Settings(data_dir=tmp_path, admin_api_key=secret, _env_file=None))
    with db.session() as s:
        assert authenticate(s, "sk-maas-one-aaaaaaaaaaaa") is None
        assert authenticate(s, "sk-maas-two-bbbbbbbbbbbb").is_platform_admin


def test_create_list_revoke_expire(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        bootstrap(s, Settings(data_dir=tmp_path, admin_api_key="sk-maas-admin-x", _env_file=None))
        created = create_key(s, DEFAULT_TENANT, "ci")
    assert created.secret.startswith(created.record.prefix)
    with db.session() as s:
        stored = s.exec(select(ApiKey).where(ApiKey.id == created.record.id)).one()
        assert stored.key_hash != created.secret and len(stored.key_hash) == 64
        who = authenticate(s, created.secret)
        assert who and who.tenant_id == DEFAULT_TENANT and not who.is_platform_admin
        assert [k.id for k in list_keys(s, DEFAULT_TENANT)] == [created.record.id]
        assert s.get(ApiKey, created.record.id).last_used_at is not None
    with db.session() as s, pytest.raises(NotFound):
        revoke_key(s, "platform", created.record.id)  # not that tenant's key
    with db.session() as s:
        revoke_key(s, DEFAULT_TENANT, created.record.id)
    with db.session() as s:
        assert authenticate(s, created.secret) is None
        expiring = create_key(s, DEFAULT_TENANT, "short")
        expiring.record.expires_at = utcnow() - timedelta(seconds=1)
        s.add(expiring.record)
    with db.session() as s:
        assert authenticate(s, expiring.secret) is None
        with pytest.raises(InvalidRequest):
            create_key(s, DEFAULT_TENANT, "x", role="god")
        with pytest.raises(NotFound):
            create_key(s, "no-such-tenant", "x")
