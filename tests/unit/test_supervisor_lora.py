"""LoRA models on a vLLM base, with real processes (tests/support/fake_vllm.py stands in
for vLLM): industry adapters given at start, an adapter that becomes ready later loaded at
run time without a restart, a tenant's private fine-tune visible only to its tenant, and a
restart with all adapters when the server runs out of LoRA slots."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import openai
import pytest

from maas.app import build_services, create_app
from maas.catalog.models import AdapterSpec, ModelManifest, load_model_manifest
from maas.finetune.store import ADAPTER_FILES, BUILD_FILE, EVAL_FILE, adapter_dir
from maas.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import make_tenant
from tests.unit.test_supervisor import wait_for

BASE = "base-chat"
PROMPT = {"ind-a": "You are the A assistant.", "ind-b": "You are the B assistant."}


def fake_vllm_command(manifest, spec, settings, host, port, adapters=()):  # noqa: ANN001, ANN201
    assert spec.kind == "vllm", "only the base gets a process"
    loras = [arg for name, path in adapters for arg in ("--lora", f"{name}={path}")]
    return [sys.executable, "-m", "tests.support.fake_vllm", "--host", host, "--port", str(port),
            "--served-model-name", manifest.id, *loras]


def write_adapter(path: Path, ready: bool = True) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        (path / name).write_text("{}")
    (path / BUILD_FILE).write_text("{}")
    (path / EVAL_FILE).write_text(json.dumps({"ready": ready, "base_score": 0.1,
                                              "adapter_score": 0.5 if ready else 0.0}))


def library(tmp_path: Path) -> Path:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights")
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{BASE}.yaml").write_text(
        f"id: {BASE}\nkind: chat\nfamily: f\ncontext_length: 512\n"
        "pricing: {input_per_1k: 0, output_per_1k: 0}\n"
        f"source: {{path: '{weights}'}}\n"
        "engines: [{kind: vllm}, {kind: transformers}]\n")
    for model_id, prompt in PROMPT.items():
        (models / f"{model_id}.yaml").write_text(
            f"id: {model_id}\nbase: {BASE}\nsystem_prompt: {prompt}\n"
            f"adapter: {{dataset: {model_id}}}\n")
    return models


def answer(client: openai.OpenAI, model: str, system: str | None = None) -> str:
    messages = [{"role": "system", "content": system}] if system else []
    reply = client.chat.completions.create(
        model=model, messages=[*messages, {"role": "user", "content": "hello"}])
    return reply.choices[0].message.content


def test_adapters_on_a_vllm_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    models = library(tmp_path)
    settings = Settings(data_dir=tmp_path / "data", models_dir=models, admin_api_key=ADMIN_KEY,
                        vllm_python=sys.executable, vllm_lora_headroom=1, health_interval=0.2,
                        build_knowledge_bases=False, _env_file=None)
    manifests = {m: load_model_manifest(models / f"{m}.yaml") for m in PROMPT}
    write_adapter(adapter_dir(manifests["ind-a"], settings))  # ind-b: not built yet
    svc = build_services(settings)
    svc.supervisor.command = fake_vllm_command
    assert "ind-b" in svc.registry.held_back and "ind-a" in svc.registry.manifests

    with serve_in_thread(create_app(settings, services=svc)) as base:
        admin = openai.OpenAI(base_url=f"{base}/v1", api_key=ADMIN_KEY, max_retries=0)
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200)
        assert [m.id for m in admin.models.list() if not m.id.startswith("app:")] == [
            BASE, "ind-a"]
        # Only the base has a process; ind-a is a LoRA on it, with its persona put in front.
        assert list(svc.supervisor.processes) == [BASE]
        server = svc.supervisor.processes[BASE]
        pid, started_with = server.process.pid, dict(server.loras)
        assert list(started_with) == ["ind-a"]
        assert answer(admin, "ind-a") == f"[ind-a] [system: {PROMPT['ind-a']}] hello"
        assert answer(admin, "ind-a", "Be brief.") == "[ind-a] [system: Be brief.] hello"
        assert answer(admin, BASE) == f"[{BASE}] [system: ] hello"

        # ind-b's adapter is built and evaluated while serving: loaded at run time.
        write_adapter(adapter_dir(manifests["ind-b"], settings))
        wait_for(lambda: svc.supervisor.is_ready("ind-b"))
        assert answer(admin, "ind-b") == f"[ind-b] [system: {PROMPT['ind-b']}] hello"
        assert server.process.pid == pid, "loading an adapter must not restart the server"
        assert "ind-b" in [m.id for m in admin.models.list()]

        # A tenant's fine-tune: its tenant sees and uses it, another tenant gets a 404.
        acme, other = make_tenant(base, "acme"), make_tenant(base, "other")
        private = adapter_dir_for_private(tmp_path)
        record = svc.registry.add_private(private_manifest(svc, "acme", private))
        assert record.owner == "acme"
        wait_for(lambda: svc.supervisor.is_ready("ft-base-chat-acme"), 60)
        # Three adapters, two slots (1 at start + headroom 1): restarted with all three.
        new = svc.supervisor.processes[BASE]
        assert new.process.pid != pid
        assert sorted(new.loras) == ["ft-base-chat-acme", "ind-a", "ind-b"]
        mine = openai.OpenAI(base_url=f"{base}/v1", api_key=acme.key, max_retries=0)
        theirs = openai.OpenAI(base_url=f"{base}/v1", api_key=other.key, max_retries=0)
        assert "ft-base-chat-acme" in [m.id for m in mine.models.list()]
        assert "ft-base-chat-acme" not in [m.id for m in theirs.models.list()]
        assert answer(mine, "ft-base-chat-acme").startswith("[ft-base-chat-acme]")
        with pytest.raises(openai.NotFoundError):
            answer(theirs, "ft-base-chat-acme")
        with pytest.raises(openai.NotFoundError):
            theirs.models.retrieve("ft-base-chat-acme")
        assert mine.models.retrieve("ft-base-chat-acme").owned_by == "acme"

        # Removed: unloaded from the running server, gone from the listing.
        svc.registry.remove_private("ft-base-chat-acme", "acme")
        wait_for(lambda: "ft-base-chat-acme" not in new.loras)
        assert svc.supervisor.processes[BASE].process.pid == new.process.pid
        with pytest.raises(openai.NotFoundError):
            answer(mine, "ft-base-chat-acme")

        # The adapter is rebuilt and no longer beats its base: held back, unloaded.
        write_adapter(adapter_dir(manifests["ind-b"], settings), ready=False)
        wait_for(lambda: "ind-b" not in new.loras)
        assert "ind-b" in svc.registry.held_back
        with pytest.raises(openai.NotFoundError):
            answer(admin, "ind-b")


def adapter_dir_for_private(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "fine-tunes" / "acme" / "job-1"
    write_adapter(path)
    return path


def private_manifest(svc, tenant: str, path: Path) -> ModelManifest:  # noqa: ANN001
    base = svc.registry.manifests[BASE]
    data = base.model_dump()
    data.update(id=f"ft-{BASE}-{tenant}", owner=tenant, base=BASE, adapter_path=str(path),
                adapter=AdapterSpec(dataset="job-1").model_dump(), tags=["fine-tuned"])
    return ModelManifest.model_validate(data)


def test_a_private_model_needs_a_ready_adapter_and_a_known_base(tmp_path: Path) -> None:
    models = library(tmp_path)
    settings = Settings(data_dir=tmp_path / "data", models_dir=models, admin_api_key=ADMIN_KEY,
                        vllm_python=sys.executable, build_knowledge_bases=False,
                        _env_file=None)
    svc = build_services(settings)
    path = tmp_path / "adapter"
    write_adapter(path, ready=False)
    manifest = private_manifest(svc, "platform", path)
    with pytest.raises(ValueError, match="did not beat"):
        svc.registry.add_private(manifest)
    with pytest.raises(ValueError, match="not in this registry"):
        svc.registry.add_private(manifest.model_copy(update={"base": "nope"}))
    with pytest.raises(ValueError, match="needs an owner"):
        svc.registry.add_private(manifest.model_copy(update={"owner": None}))
    write_adapter(path)
    svc.registry.add_private(manifest)
    # A restart (a new registry over the same database) keeps it, with its manifest.
    again = build_services(settings)
    assert again.registry.manifests[manifest.id] == manifest
    assert again.registry.snapshot[manifest.id].owner == "platform"
