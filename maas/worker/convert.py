"""GGUF -> bf16 safetensors, converted once and cached.

transformers can load a GGUF directly, but that dequantises every tensor on every start
(~17 s for a 135M model, minutes for bigger ones). Converting once into a plain
safetensors directory under `cache_dir/converted/<id>-<version>` makes later starts take a
fraction of a second. The conversion writes into a temporary sibling directory and renames
it into place, so a crash half-way never leaves a cache that looks complete.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from maas.catalog.models import ModelManifest
from maas.catalog.sources import materialise

log = logging.getLogger(__name__)

#: Marker written last inside a finished conversion; its presence means "complete".
DONE_MARKER = ".maas-converted"


def converted_dir(manifest: ModelManifest, cache_dir: Path) -> Path:
    """Where the converted weights of this manifest version live."""
    return cache_dir / "converted" / f"{manifest.id}-{manifest.version}"


def is_converted(target: Path) -> bool:
    return (target / DONE_MARKER).exists()


def _find_gguf(weights: Path) -> Path | None:
    if weights.is_file() and weights.suffix == ".gguf":
        return weights
    if weights.is_dir():
        files = sorted(weights.glob("*.gguf"))
        if len(files) == 1:
            return files[0]
    return None


def _convert_gguf(gguf: Path, target: Path, chat_template: str | None) -> None:
    """Dequantise `gguf` and save model + tokenizer as a transformers directory at `target`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    steps = tqdm(total=3, desc=f"converting {gguf.name}", unit="step")
    try:
        steps.set_postfix_str("tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        if chat_template:
            tokenizer.chat_template = chat_template
        steps.update()
        steps.set_postfix_str("dequantising weights")
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16,
            quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
        )
        # The saved copy is plain bf16: drop the GGUF quantisation marker or reloading
        # would try to dequantise again.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        steps.update()
        steps.set_postfix_str("saving safetensors")
        model.save_pretrained(str(target), safe_serialization=True)
        tokenizer.save_pretrained(str(target))
        steps.update()
    finally:
        steps.close()


def ensure_converted(manifest: ModelManifest, cache_dir: Path) -> Path:
    """Return a transformers-loadable directory for `manifest`, converting a GGUF if needed.

    A source that already is a transformers directory (config.json) is used as is.
    """
    if manifest.source is None:
        raise ValueError(f"{manifest.id} has no local source")
    weights = materialise(manifest.source, cache_dir)
    if weights.is_dir() and (weights / "config.json").exists():
        return weights
    gguf = _find_gguf(weights)
    if gguf is None:
        raise FileNotFoundError(f"{weights}: neither a GGUF file nor a transformers directory")
    target = converted_dir(manifest, cache_dir)
    if is_converted(target):
        log.info("using converted weights of %s from %s", manifest.id, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting %s from %s to bf16 safetensors (once; cached in %s)",
             manifest.id, gguf, target)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp, manifest.chat_template)
        (tmp / DONE_MARKER).write_text(f"{gguf}\n", encoding="utf-8")
        if target.exists() and not is_converted(target):  # stale, e.g. an older layout
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not is_converted(target):
                raise
            log.info("another process converted %s meanwhile; using its copy", manifest.id)
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("converted %s in %.1f s", manifest.id, time.monotonic() - started)
    return target
