"""Platform knowledge bases: built from folders at start, rebuilt only on change,
read-only through the API, and a failed build leaves the live index serving."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from maas.app import create_app, knowledge_service
from maas.catalog.knowledge import load_kb_manifest
from maas.knowledge.embedder import Embedder
from maas.knowledge.platform import PlatformBuilder
from maas.settings import Settings
from tests.conftest import ADMIN_KEY, write_fake_manifests
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import bearer, make_tenant, ok

KB_YAML = """\
id: plant-safety
industry: manufacturing
title: {zh: 工厂安全, en: Plant safety}
description: {zh: 安全规程, en: Safety rules}
languages: [zh, en]
sources: [docs/]
splitter: {chunk_size: 300, chunk_overlap: 40}
embedding_model: fake-embed
"""


def _write_kb(root: Path) -> Path:
    folder = root / "plant-safety"
    (folder / "docs" / "zh").mkdir(parents=True)
    (folder / "kb.yaml").write_text(KB_YAML, encoding="utf-8")
    (folder / "docs" / "lockout.md").write_text(
        "# Lockout\n\n## Steps\n\nIsolate every energy source and apply a personal lock "
        "before opening the guard of press 7.\n", encoding="utf-8")
    (folder / "docs" / "zh" / "forklift.html").write_text(
        "<html><body><nav>首页 | 关于</nav><main><h1>叉车</h1><p>叉车行驶速度在库区内不得超过"
        "每小时五公里。</p></main><footer>版权所有</footer></body></html>", encoding="utf-8")
    return folder


def _embedder_for(url: str):  # noqa: ANN202
    def embedder_for(model_id: str) -> Embedder:
        async def post(body: dict) -> dict:
            async with httpx.AsyncClient() as client:
                r = await client.post(f"{url}/v1/embeddings", json=body)
                r.raise_for_status()
                return r.json()

        return Embedder(model_id, post)

    return embedder_for


def _wait_ready(base: str, key: str, kb_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = httpx.get(f"{base}/v1/knowledge_bases/{kb_id}", headers=bearer(key))
        if r.status_code == 200 and r.json()["status"] == "ready":
            return r.json()
        time.sleep(0.1)
    pytest.fail(f"{kb_id} did not become ready: {r.text}")


def test_platform_kb_built_at_start_then_only_on_change(
        tmp_path: Path, fake_engine: tuple[str, object]) -> None:
    url, _ = fake_engine
    write_fake_manifests(tmp_path / "models", url)
    folder = _write_kb(tmp_path / "kbs")
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                        knowledge_bases_dir=tmp_path / "kbs", build_knowledge_bases=True,
                        admin_api_key=ADMIN_KEY, supervise_workers=False, _env_file=None)
    app = create_app(settings)
    with serve_in_thread(app) as base:
        tenant = make_tenant(base, "pk-a", plan="internal")
        kb = _wait_ready(base, tenant.key, "plant-safety")
        assert kb["visibility"] == "platform" and kb["documents"] == 2
        assert kb["name"] == "Plant safety" and kb["name_zh"] == "工厂安全"
        docs = ok(httpx.get(f"{base}/v1/knowledge_bases/plant-safety/documents",
                            headers=bearer(tenant.key)))["data"]
        assert sorted(d["name"] for d in docs) == ["lockout.md", "zh/forklift.html"]
        hits = ok(httpx.post(f"{base}/v1/knowledge_bases/plant-safety/search",
                             headers=bearer(tenant.key), json={"query": "叉车 速度"}))["data"]
        forklift = next(h for h in hits if h["document"] == "zh/forklift.html")
        assert "五公里" in forklift["text"] and forklift["lexical_rank"] == 1
        assert "版权所有" not in forklift["text"]  # page boilerplate stripped

        # Read-only for everyone through the API, platform admin included.
        for key in (tenant.key, ADMIN_KEY):
            r = httpx.post(f"{base}/v1/knowledge_bases/plant-safety/documents",
                           headers=bearer(key), files={"file": ("x.md", b"# x\n\ny")})
            assert r.status_code == 403 and "maas kb build" in r.json()["error"]["message"]
            r = httpx.delete(f"{base}/v1/knowledge_bases/plant-safety", headers=bearer(key))
            assert r.status_code == 403

        # A second writer on the same data dir (as `maas kb build` is), with its own client.
        svc = app.state.services
        builder = PlatformBuilder(knowledge_service(svc.settings, svc.db, _embedder_for(url)))
        platform_kb = load_kb_manifest(folder)
        version = (svc.settings.data_dir / "knowledge" / "plant-safety" / "CURRENT").read_text()
        assert asyncio.run(builder.build(platform_kb)).status == "up-to-date"

        # One changed document: rebuilt, and only that one embedded again.
        (folder / "docs" / "lockout.md").write_text(
            "# Lockout\n\nTry the start button after locking out, to verify zero energy.\n",
            encoding="utf-8")
        result = asyncio.run(builder.build(platform_kb))
        assert (result.status, result.documents, result.embedded) == ("built", 2, 1)
        hits = ok(httpx.post(f"{base}/v1/knowledge_bases/plant-safety/search",
                             headers=bearer(tenant.key), json={"query": "start button"}))
        texts = [h["text"] for h in hits["data"]]
        assert any("zero energy" in t for t in texts)
        assert not any("personal lock" in t for t in texts)  # the old version is gone

        # A broken document fails the build; the previous version keeps serving.
        live = (svc.settings.data_dir / "knowledge" / "plant-safety" / "CURRENT").read_text()
        assert live != version
        (folder / "docs" / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
        result = asyncio.run(builder.build(platform_kb))
        assert result.status == "failed" and "PDF" in (result.error or "")
        assert (svc.settings.data_dir / "knowledge" / "plant-safety" /
                "CURRENT").read_text() == live
        kb = ok(httpx.get(f"{base}/v1/knowledge_bases/plant-safety", headers=bearer(tenant.key)))
        assert kb["status"] == "ready" and kb["documents"] == 2
