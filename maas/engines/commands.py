"""Command lines and environments for the engine processes a supervisor starts."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from maas.catalog.models import EngineSpec, ModelManifest
from maas.engines.availability import vllm_python
from maas.engines.vllm_server import Adapter
from maas.settings import Settings

#: Settings a worker inherits from the gateway that started it.
_INHERITED = ("data_dir", "models_dir", "max_batch_size", "torch_threads", "log_level",
              "vllm_lora_headroom")


def worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name in _INHERITED:
        value = getattr(settings, name)
        if value is not None:
            env[f"MAAS_{name.upper()}"] = str(value)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env.pop("MAAS_ADMIN_API_KEY", None)  # workers never need the admin secret
    return env


def engine_command(manifest: ModelManifest, spec: EngineSpec, settings: Settings,
                   host: str, port: int, adapters: Sequence[Adapter] = ()) -> list[str]:
    """The argv of the engine process for `manifest`.

    vLLM is started through `maas.vllm_launcher`, which runs in this interpreter (it
    converts GGUF weights with the CPU worker's tools), then execs vLLM's own interpreter.
    `adapters` are (name, path) LoRA adapters vLLM serves on top of the base model.
    """
    if spec.kind == "vllm":
        python = vllm_python(settings) or sys.executable
        loras = [arg for name, path in adapters for arg in ("--lora", f"{name}={path}")]
        return [sys.executable, "-m", "maas.vllm_launcher", "--model", manifest.id,
                "--python", python, "--host", host, "--port", str(port), *loras]
    argv = [sys.executable, "-m", "maas", "worker", "--model", manifest.id,
            "--host", host, "--port", str(port)]
    if manifest.owner is not None:  # a private model has no YAML: hand the worker its own
        path = settings.data_dir / "private-models" / f"{manifest.id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(manifest.model_dump_json(), encoding="utf-8")
        argv += ["--manifest", str(path)]
    return argv
