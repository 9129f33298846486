"""Command lines and environments for the engine processes a supervisor starts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from maas.catalog.models import EngineSpec, ModelManifest
from maas.catalog.sources import locate
from maas.engines.availability import vllm_python
from maas.settings import Settings

#: Settings a worker inherits from the gateway that started it.
_INHERITED = ("data_dir", "models_dir", "max_batch_size", "torch_threads", "log_level")


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


def cli_args(args: dict[str, Any]) -> list[str]:
    """`{max_model_len: 4096, enforce_eager: true}` -> `--max-model-len 4096 --enforce-eager`."""
    out: list[str] = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, dict):
            out += [flag, json.dumps(value)]
        else:
            out += [flag, str(value)]
    return out


def engine_command(manifest: ModelManifest, spec: EngineSpec, settings: Settings,
                   host: str, port: int) -> list[str]:
    if spec.kind == "vllm":
        python = vllm_python(settings) or sys.executable
        assert manifest.source is not None
        location = locate(manifest.source)
        model_path = str(location.path) if location.path else str(Path(manifest.source.hf or ""))
        return [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path,
                "--served-model-name", manifest.id, "--host", host, "--port", str(port),
                *cli_args(spec.args)]
    return [sys.executable, "-m", "maas", "worker", "--model", manifest.id,
            "--host", host, "--port", str(port)]
