"""Shared fixtures: a gateway on real HTTP whose models point at a fake OpenAI engine."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from maas.app import create_app
from maas.settings import Settings
from tests.support.fake_engine import create_fake_engine, serve_in_thread

ADMIN_KEY = "sk-maas-test-admin-0123456789"


def write_fake_manifests(models_dir: Path, engine_url: str) -> None:
    models_dir.mkdir(parents=True, exist_ok=True)
    common = ("family: fake\ncontext_length: 2048\n"
              "pricing: {input_per_1k: 0.5, output_per_1k: 1.0}\n")
    (models_dir / "fake-chat.yaml").write_text(
        f"id: fake-chat\nkind: chat\n{common}engines:\n"
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
