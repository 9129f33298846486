"""Where built adapters live, what identifies a build, and which adapters are ready.

An adapter is cached under `data_dir/adapters/<model id>/<key>/`, where `key` is a content
hash of everything that decides its weights: the training data, the system prompt, the
adapter settings and the base weights. Changing any of them means a new build in a new
directory; an old one is never served for a changed manifest. Next to the peft files a
build writes `build.json` (settings, losses, time) and `maas models eval` writes
`eval.json` (base vs adapter scores). An adapter is *ready* only when `eval.json` says it
beat its base. Nothing here imports torch: the gateway's registry calls it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maas.catalog.models import ModelManifest
from maas.catalog.sources import locate
from maas.finetune.datasets import dataset_dir
from maas.settings import Settings

#: Bump when the training code changes what a given key produces.
BUILD_FORMAT = "1"
BUILD_FILE, EVAL_FILE = "build.json", "eval.json"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class AdapterState:
    """One industry model's adapter on this machine: where it would be and whether it
    may be served (`reason` says why not)."""

    model_id: str
    path: Path
    built: bool
    ready: bool
    reason: str | None
    evaluation: dict[str, Any] | None = None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_digest(manifest: ModelManifest, cache_dir: Path) -> str:
    """sha256 of the base weights file(s), remembered per (path, size, mtime) in the cache
    so the gateway does not re-read ~100 MB at every start."""
    if manifest.source is None:
        raise ValueError(f"{manifest.id} has no local weights")
    location = locate(manifest.source)
    if location.path is None:
        raise FileNotFoundError(location.reason or f"weights of {manifest.id} not found")
    files = sorted(p for p in location.path.rglob("*") if p.is_file()) \
        if location.path.is_dir() else [location.path]
    parts = []
    for file in files:
        stat = file.stat()
        ident = hashlib.sha1(f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        memo = cache_dir / "fingerprints" / f"{ident.hexdigest()}.sha256"
        if memo.is_file():
            parts.append(memo.read_text(encoding="utf-8").strip())
            continue
        value = _sha256_file(file)
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(value, encoding="utf-8")
        parts.append(value)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def build_key(manifest: ModelManifest, settings: Settings) -> str:
    """The content hash naming this manifest's adapter build (24 hex characters)."""
    if manifest.adapter is None:
        raise ValueError(f"{manifest.id} is not an industry model")
    train = dataset_dir(settings.models_dir, manifest.adapter.dataset) / "train.jsonl"
    material = {
        "format": BUILD_FORMAT,
        "base": manifest.base,
        "weights": weights_digest(manifest, settings.cache_dir),
        "train": hashlib.sha256(train.read_bytes()).hexdigest() if train.is_file() else None,
        "system_prompt": manifest.system_prompt,
        "chat_template": manifest.chat_template,
        "adapter": manifest.adapter.model_dump(mode="json"),
    }
    blob = json.dumps(material, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def adapter_dir(manifest: ModelManifest, settings: Settings) -> Path:
    """A fine-tune's own directory, else the content-hashed build of an industry model."""
    if manifest.adapter_path is not None:
        return Path(manifest.adapter_path)
    return settings.data_dir / "adapters" / manifest.id / build_key(manifest, settings)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def adapter_state(manifest: ModelManifest, settings: Settings) -> AdapterState:
    """Built? Evaluated? Better than its base? Cheap: reads two small JSON files."""
    try:
        path = adapter_dir(manifest, settings)
    except (OSError, ValueError) as exc:
        return AdapterState(manifest.id, Path(), False, False, f"cannot identify the build: {exc}")
    built = all((path / name).is_file() for name in ADAPTER_FILES) and (
        path / BUILD_FILE).is_file()
    if not built:
        return AdapterState(manifest.id, path, False, False,
                            f"adapter files missing in {path}" if manifest.adapter_path else
                            f"adapter not built (run: maas models build {manifest.id})")
    evaluation = read_json(path / EVAL_FILE)
    if evaluation is None:
        return AdapterState(manifest.id, path, True, False,
                            f"adapter not evaluated ({path / EVAL_FILE} missing)"
                            if manifest.adapter_path else
                            f"adapter not evaluated (run: maas models eval {manifest.id})")
    if not evaluation.get("ready"):
        return AdapterState(manifest.id, path, True, False,
                            f"adapter scored {evaluation.get('adapter_score')} and did not "
                            f"beat its base ({evaluation.get('base_score')})", evaluation)
    return AdapterState(manifest.id, path, True, True, None, evaluation)
