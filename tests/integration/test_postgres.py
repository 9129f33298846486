"""The same migrations, bootstrap, keys and registry on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest

from maas.catalog.models import load_model_manifests
from maas.db.database import Database
from maas.engines.availability import EngineSelector
from maas.engines.registry import ModelRegistry
from maas.settings import REPO_ROOT, Settings
from maas.tenancy.bootstrap import DEFAULT_TENANT, bootstrap
from maas.tenancy.keys import authenticate, create_key, revoke_key

pytestmark = pytest.mark.postgres


def test_schema_keys_and_registry_on_postgres(pg_url: str, tmp_path: Path) -> None:
    db = Database(pg_url)
    db.upgrade()
    db.upgrade()  # idempotent
    settings = Settings(data_dir=tmp_path, admin_api_key="sk-maas-pg-admin-key",
                        database_url=pg_url, _env_file=None)
    with db.session() as s:
        bootstrap(s, settings)
        created = create_key(s, DEFAULT_TENANT, "pg")
    with db.session() as s:
        assert authenticate(s, "sk-maas-pg-admin-key").is_platform_admin
        assert authenticate(s, created.secret).tenant_id == DEFAULT_TENANT
        revoke_key(s, DEFAULT_TENANT, created.record.id)
    with db.session() as s:
        assert authenticate(s, created.secret) is None

    registry = ModelRegistry(db, EngineSelector(settings, gpu=lambda: False))
    registry.sync(load_model_manifests(REPO_ROOT / "models"))
    records = {r.id: r for r in registry.list()}
    assert records["qwen2.5-7b-instruct"].status == "unavailable"
    assert "GPU" in records["qwen2.5-7b-instruct"].status_reason
    assert records["smollm2-135m-instruct"].engine == "transformers"
    registry.set_enabled("smollm2-135m-instruct", False)
    registry.sync(load_model_manifests(REPO_ROOT / "models"))  # a restart keeps the switch
    assert registry.get("smollm2-135m-instruct").enabled is False
    assert registry.get("smollm2-135m-instruct").status == "disabled"
    db.dispose()
