"""Tenant knowledge bases over real HTTP: upload, search, isolation, bad input."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from maas.app import create_app
from maas.settings import Settings
from tests.conftest import ADMIN_KEY, write_fake_manifests
from tests.support.documents import chinese_pdf, docx_bytes
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import bearer, make_tenant, ok


@pytest.fixture
def kb_gateway(tmp_path: Path, fake_engine: tuple[str, object]) -> Iterator[tuple[str, Path]]:
    url, _ = fake_engine
    write_fake_manifests(tmp_path / "models", url)
    data = tmp_path / "data"
    settings = Settings(data_dir=data, models_dir=tmp_path / "models", admin_api_key=ADMIN_KEY,
                        supervise_workers=False, max_upload_mb=1, _env_file=None)
    with serve_in_thread(create_app(settings)) as base:
        yield base, data


def _upload(base: str, key: str, kb: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{base}/v1/knowledge_bases/{kb}/documents", headers=bearer(key),
                      files={"file": (name, data)}, timeout=60)


def _state(data: Path, kb: str) -> tuple[str, list[str]]:
    root = data / "knowledge" / kb
    return ((root / "CURRENT").read_text(), sorted(p.name for p in root.rglob("*")))


def test_upload_search_isolation_and_bad_input(kb_gateway: tuple[str, Path]) -> None:
    base, data = kb_gateway
    a, b = make_tenant(base, "kb-a", plan="internal"), make_tenant(base, "kb-b", plan="internal")
    kb = ok(httpx.post(f"{base}/v1/knowledge_bases", headers=bearer(a.key), json={
        "name": "设备维护", "embedding_model": "fake-embed"}), 201)
    assert kb["visibility"] == "tenant" and kb["status"] == "empty"
    pdf = chinese_pdf([["数控机床主轴温度过高的常见原因是润滑", "不足，以及轴承预紧力过大。"],
                       ["报警 2001 表示主轴过热，应先停机，", "再检查润滑泵与油位。"],
                       ["冷却液浓度应保持在百分之五到八之间。"]])
    doc = ok(_upload(base, a.key, kb["id"], "主轴手册.pdf", pdf), 201)
    assert doc["kind"] == "pdf" and doc["pages"] == 3 and doc["chunks"] >= 3
    assert doc["embedding_tokens"] > 0
    ingest = [u for u in ok(httpx.get(a.api("/usage"), headers=bearer(a.key)))["data"]
              if u["endpoint"] == "knowledge.ingest"]
    assert len(ingest) == 1 and ingest[0]["model"] == "fake-embed"
    assert ingest[0]["prompt_tokens"] == doc["embedding_tokens"] and ingest[0]["cost"] > 0
    ok(_upload(base, a.member_token, kb["id"], "电机.docx", docx_bytes()), 201)
    hits = ok(httpx.post(f"{base}/v1/knowledge_bases/{kb['id']}/search", headers=bearer(a.key),
                         json={"query": "报警 2001 主轴过热怎么办", "top_k": 3}))["data"]
    assert hits[0]["document"] == "主轴手册.pdf" and hits[0]["page"] == 2
    assert hits[0]["score"] > 0 and "2001" in hits[0]["text"]
    table = ok(httpx.post(f"{base}/v1/knowledge_bases/{kb['id']}/search", headers=bearer(a.key),
                          json={"query": "E07 故障", "filters": {"kind": "table"}}))["data"]
    assert table and all(h["kind"] == "table" for h in table)
    assert table[0]["text"].startswith("报警代码 | 含义 | 处理")
    shown = ok(httpx.get(f"{base}/v1/knowledge_bases/{kb['id']}", headers=bearer(a.key)))
    assert shown["documents"] == 2 and shown["status"] == "ready"
    # Each search embedded its query: metered like an embeddings request, to the caller.
    searches = [u for u in ok(httpx.get(a.api("/usage"), headers=bearer(a.key)))["data"]
                if u["endpoint"] == "knowledge.search"]
    assert len(searches) == 2 and all(u["model"] == "fake-embed" for u in searches)
    assert all(u["prompt_tokens"] > 0 and u["cost"] > 0 for u in searches)

    # Tenant B sees none of it.
    for method, path in [("GET", ""), ("DELETE", ""), ("GET", "/documents"),
                         ("GET", f"/documents/{doc['id']}"), ("DELETE", f"/documents/{doc['id']}")]:
        r = httpx.request(method, f"{base}/v1/knowledge_bases/{kb['id']}{path}",
                          headers=bearer(b.key))
        assert r.status_code == 404, (method, path, r.text)
    r = httpx.post(f"{base}/v1/knowledge_bases/{kb['id']}/search", headers=bearer(b.key),
                   json={"query": "主轴"})
    assert r.status_code == 404
    assert _upload(base, b.key, kb["id"], "x.txt", b"hello").status_code == 404
    listed = ok(httpx.get(f"{base}/v1/knowledge_bases", headers=bearer(b.key)))["data"]
    assert kb["id"] not in {k["id"] for k in listed}

    # Bad input: a clear 4xx each, and the knowledge base exactly as it was.
    before = _state(data, kb["id"])
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * 50_000_000)
    cases = [("../../etc/passwd.txt", b"x", 400), ("bomb.docx", bomb.getvalue(), 422),
             ("big.txt", b"a" * 1_100_000, 413), ("broken.pdf", b"%PDF-1.4 junk", 422),
             ("tool.exe", b"MZ", 415), ("empty.md", b"", 400)]
    for name, payload, status in cases:
        r = _upload(base, a.key, kb["id"], name, payload)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.json()["error"]["message"]
    assert _state(data, kb["id"]) == before
    assert len(ok(httpx.get(f"{base}/v1/knowledge_bases/{kb['id']}/documents",
                            headers=bearer(a.key)))["data"]) == 2

    # Re-ingesting a document by name replaces it; deleting one re-indexes without it.
    again = ok(_upload(base, a.key, kb["id"], "主轴手册.pdf",
                       chinese_pdf([["更新后的主轴手册：报警 2002 表示润滑压力低。"]])), 201)
    docs = ok(httpx.get(f"{base}/v1/knowledge_bases/{kb['id']}/documents",
                        headers=bearer(a.key)))["data"]
    assert sorted(d["name"] for d in docs) == ["主轴手册.pdf", "电机.docx"]
    assert again["id"] != doc["id"] and again["pages"] == 1
    r = httpx.delete(f"{base}/v1/knowledge_bases/{kb['id']}/documents/{again['id']}",
                     headers=bearer(a.member_token))
    assert r.status_code == 403  # deleting is for tenant admins
    ok(httpx.delete(f"{base}/v1/knowledge_bases/{kb['id']}/documents/{again['id']}",
                    headers=bearer(a.key)))
    hits = ok(httpx.post(f"{base}/v1/knowledge_bases/{kb['id']}/search", headers=bearer(a.key),
                         json={"query": "报警 2002 润滑压力"}))["data"]
    assert all(h["document"] == "电机.docx" for h in hits)
    actions = [e["action"] for e in ok(httpx.get(f"{base}/api/v1/tenants/kb-a/audit",
                                                 headers=bearer(a.key)))["data"]]
    assert {"kb.create", "kb.document.add", "kb.document.delete"} <= set(actions)


def test_chat_with_knowledge_bases_returns_citations(
        kb_gateway: tuple[str, Path], fake_engine: tuple[str, object]) -> None:
    import openai

    base, _ = kb_gateway
    _, engine = fake_engine
    a, b = make_tenant(base, "kbc-a", plan="internal"), make_tenant(base, "kbc-b", plan="internal")
    kb = ok(httpx.post(f"{base}/v1/knowledge_bases", headers=bearer(a.key), json={
        "name": "主轴", "embedding_model": "fake-embed"}), 201)
    pdf = chinese_pdf([["冷却液浓度应保持在百分之五到八之间。"],
                       ["报警 2001 表示主轴过热，应先停机，", "再检查润滑泵与油位。"]])
    ok(_upload(base, a.key, kb["id"], "主轴手册.pdf", pdf), 201)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=a.key, max_retries=0)

    reply = client.chat.completions.create(
        model="fake-chat", messages=[{"role": "system", "content": "你是设备工程师。"},
                                     {"role": "user", "content": "报警 2001 怎么处理？"}],
        extra_body={"knowledge_bases": [kb["id"]], "knowledge_top_k": 2})
    citations = reply.model_extra["citations"]  # the fake engine's vectors are noise:
    assert [c["index"] for c in citations] == [1, 2]  # which one ranks first is chance
    alarm = next(c for c in citations if "2001" in c["snippet"])
    assert alarm["document"] == "主轴手册.pdf" and alarm["page"] == 2
    assert alarm["knowledge_base"] == kb["id"] and alarm["score"] > 0
    sent = engine.state.requests[-1]  # type: ignore[attr-defined]
    assert "knowledge_bases" not in sent and "knowledge_top_k" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    system = sent["messages"][0]["content"]
    assert system.startswith("你是设备工程师。")
    assert f"[{alarm['index']}] (主轴手册.pdf, p. 2)" in system
    assert "请仅依据下面编号的资料" in system  # instructions in the question's language

    stream = client.chat.completions.create(
        model="fake-chat", stream=True, messages=[{"role": "user", "content": "报警 2001"}],
        extra_body={"knowledge_bases": [kb["id"]]})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = chunks[-1]
    assert final.choices == [] and final.usage is None
    assert {c["page"] for c in final.model_extra["citations"]} == {1, 2}
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])

    # Another tenant's knowledge base answers like a missing one; bad values are 400s.
    other = openai.OpenAI(base_url=f"{base}/v1", api_key=b.key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.chat.completions.create(model="fake-chat", messages=[
            {"role": "user", "content": "报警 2001"}], extra_body={"knowledge_bases": [kb["id"]]})
    for bad in ([], "kb", [""], [kb["id"]] * 9):
        r = httpx.post(f"{base}/v1/chat/completions", headers=bearer(a.key), json={
            "model": "fake-chat", "messages": [{"role": "user", "content": "hi"}],
            "knowledge_bases": bad})
        assert r.status_code == 400 and r.json()["error"]["param"] == "knowledge_bases", bad
