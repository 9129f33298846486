"""Shared fixtures: a gateway on real HTTP whose models point at a fake OpenAI engine."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from maas.app import create_app
from maas.settings import Settings
from tests.support.fake_engine import create_fake_engine, serve_in_thread

ADMIN_KEY = "sk-maas-test-admin-0123456789"
# Platform knowledge bases are built only where a test asks for it (a build embeds every
# shipped document).
os.environ.setdefault("MAAS_BUILD_KNOWLEDGE_BASES", "false")


def write_fake_manifests(models_dir: Path, engine_url: str) -> None:
    models_dir.mkdir(parents=True, exist_ok=True)
    common = ("family: fake\ncontext_length: 2048\n"
              "pricing: {input_per_1k: 0.5, output_per_1k: 1.0}\n")
    (models_dir / "fake-chat.yaml").write_text(
        f"id: fake-chat\nkind: chat\ntags: [general]\n{common}engines:\n"
        f"  - {{kind: remote, base_url: '{engine_url}/v1', upstream_model: fake}}\n")
    (models_dir / "fake-base.yaml").write_text(
        f"id: fake-base\nkind: completion\n{common}engines:\n"
        f"  - {{kind: remote, base_url: '{engine_url}/v1'}}\n")
    (models_dir / "fake-embed.yaml").write_text(
        f"id: fake-embed\nkind: embedding\ndimensions: 8\n{common}engines:\n"
        f"  - {{kind: remote, base_url: '{engine_url}/v1'}}\n")
    (models_dir / "big-gpu-model.yaml").write_text(textwrap.dedent("""\
        id: big-gpu-model
        kind: chat
        family: big
        context_length: 32768
        pricing: {input_per_1k: 0.002, output_per_1k: 0.006}
        source: {path: /nonexistent/weights}
        engines:
          - {kind: vllm, requires_gpu: true}
        """))


@pytest.fixture(scope="session")
def fake_engine() -> Iterator[tuple[str, object]]:
    app = create_fake_engine()
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture
def gateway_settings(tmp_path: Path, fake_engine: tuple[str, object]) -> Settings:
    url, _ = fake_engine
    write_fake_manifests(tmp_path / "models", url)
    return Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                    admin_api_key=ADMIN_KEY, supervise_workers=False, health_interval=0.2,
                    _env_file=None)


@pytest.fixture
def gateway(gateway_settings: Settings) -> Iterator[str]:
    """Base URL of a running gateway (real HTTP, real SQLite, fake engine)."""
    app = create_app(gateway_settings)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def client(gateway: str):  # noqa: ANN201
    import openai

    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=ADMIN_KEY, max_retries=0)


POSTGRES_URL = os.environ.get("MAAS_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL server, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"maas_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Tenancy and metering tests run on both databases."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'maas.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def tenancy_gateway(tmp_path: Path, fake_engine: tuple[str, object], database_url: str
                    ) -> Iterator[str]:
    """A gateway on real HTTP over SQLite or PostgreSQL (the fake engine behind it)."""
    url, _ = fake_engine
    write_fake_manifests(tmp_path / "models", url)
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                        database_url=database_url, admin_api_key=ADMIN_KEY,
                        supervise_workers=False, health_interval=0.2, _env_file=None)
    with serve_in_thread(create_app(settings)) as base:
        yield base
