"""`maas models build`: train an industry model's LoRA adapter with peft on the CPU.

The loop itself (`train_lora`) is shared with tenants' fine-tuning jobs
(`maas.finetune.jobs.train`), so both get the same seeded, reproducible training.

Deterministic for a given build key: seeded torch and batch order, no dropout by default.
The loss covers only the assistant's tokens (the prompt is context, not a target). The
result is written to a temporary sibling and renamed into place, so a build that dies
half-way never looks finished.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from maas.catalog.models import AdapterSpec, ModelManifest, load_model_manifest
from maas.finetune.datasets import dataset_dir, load_train
from maas.finetune.store import BUILD_FILE, adapter_dir, adapter_state, build_key, read_json
from maas.protocol import with_system_prompt
from maas.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    path: Path
    cached: bool
    seconds: float
    first_loss: float | None
    final_loss: float | None


def base_weights_dir(manifest: ModelManifest, settings: Settings) -> Path:
    """The base model's converted transformers directory (shared with the worker's cache)."""
    from maas.worker.convert import ensure_converted

    assert manifest.base is not None
    base = load_model_manifest(settings.models_dir / f"{manifest.base}.yaml")
    return ensure_converted(base, settings.cache_dir)


def with_system(manifest: ModelManifest, messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The manifest's system prompt in front of a chat that has none (as served)."""
    return with_system_prompt(manifest.system_prompt, messages)


def _ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt,
                                            tokenize=True, return_dict=True)
    return [int(i) for i in encoded["input_ids"]]


def encode_example(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """Token ids and labels: -100 over the prompt, the ids over the last assistant turn."""
    full = _ids(tokenizer, messages, False)
    prompt = _ids(tokenizer, messages[:-1], True)
    if full[:len(prompt)] != prompt:
        raise ValueError("the chat template does not extend the prompt with the answer")
    return full, [-100] * len(prompt) + full[len(prompt):]


def batch_order(count: int, size: int, steps: int, seed: int) -> list[list[int]]:
    """`steps` batches of indices: seeded shuffles of the whole set, epoch after epoch."""
    rng, order, out = random.Random(seed), [], []
    while len(out) < steps:
        if len(order) < size:
            epoch = list(range(count))
            rng.shuffle(epoch)
            order += epoch
        out.append(order[:size])
        order = order[size:]
    return out


def _collate(examples: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in examples)
    ids = [i + [pad_id] * (width - len(i)) for i, _ in examples]
    labels = [lab + [-100] * (width - len(lab)) for _, lab in examples]
    # No attention mask: padding is on the right and attention is causal, so no real
    # token ever sees a pad, and pads carry no loss. A padding mask would also push
    # attention off its fast path (measured ~10x slower per step on this CPU).
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}


@dataclass(frozen=True)
class LoraRun:
    """What one LoRA training run needs besides its data: shared by industry builds (from
    a manifest's `adapter:`) and tenants' fine-tuning jobs (from their hyperparameters)."""

    rank: int
    alpha: int
    dropout: float
    steps: int
    batch_size: int
    learning_rate: float
    seed: int
    target_modules: tuple[str, ...]

    @classmethod
    def of(cls, spec: AdapterSpec) -> LoraRun:
        return cls(spec.rank, spec.alpha, spec.dropout, spec.steps, spec.batch_size,
                   spec.learning_rate, spec.seed, tuple(spec.target_modules))

    def batches(self, count: int) -> list[list[int]]:
        """The batches of indices into `count` examples this run trains on, in order."""
        return batch_order(count, min(self.batch_size, count), self.steps, self.seed)


def load_base(weights: Path, chat_template: str | None, torch_threads: int | None,
              seed: int) -> tuple[Any, Any]:
    """(bf16 model, tokenizer) of a converted base, with torch seeded for a run."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if torch_threads:  # as the worker does: share the cores it is told to
        torch.set_num_threads(torch_threads)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(weights))
    if chat_template:
        tokenizer.chat_template = chat_template
    # bf16 base (as served; ~1.8x faster per step than float32 here); peft keeps the
    # adapter's own weights in float32, so the optimiser's updates are not rounded away.
    model = AutoModelForCausalLM.from_pretrained(str(weights), dtype=torch.bfloat16)
    return model, tokenizer


def pad_id_of(tokenizer: Any) -> int:
    return int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None
               else tokenizer.eos_token_id)


StepHook = Callable[[int, int, float], None]


def train_lora(model: Any, examples: list[tuple[list[int], list[int]]], pad_id: int,
               run: LoraRun, desc: str, on_step: StepHook | None = None) -> tuple[Any, list[float]]:
    """The one LoRA training loop: wrap `model` with a fresh adapter and train it for
    `run.steps` seeded batches of `examples`. Returns (peft model, loss per step);
    `on_step(step, steps, loss)` is called after every step (progress reporting)."""
    import torch
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=run.rank, lora_alpha=run.alpha, lora_dropout=run.dropout,
                        target_modules=list(run.target_modules), task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    model.train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=run.learning_rate, weight_decay=0.0)
    losses: list[float] = []
    bar = tqdm(run.batches(len(examples)), desc=f"training {desc}", unit="step")
    for step, batch in enumerate(bar, start=1):
        inputs = _collate([examples[i] for i in batch], pad_id)
        loss = model(**inputs).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if step == 1 or step % 10 == 0 or step == run.steps:
            log.info("step %d/%d loss %.4f", step, run.steps, losses[-1])
        if on_step is not None:
            on_step(step, run.steps, losses[-1])
    bar.close()
    model.eval()
    return model, losses


def _train(manifest: ModelManifest, settings: Settings, out: Path) -> tuple[list[float], int]:
    spec = manifest.adapter
    assert spec is not None
    chats = load_train(dataset_dir(settings.models_dir, spec.dataset) / "train.jsonl")
    base, tokenizer = load_base(base_weights_dir(manifest, settings), manifest.chat_template,
                                settings.torch_threads, spec.seed)
    examples = [encode_example(tokenizer, with_system(manifest, c)) for c in chats]
    model, losses = train_lora(base, examples, pad_id_of(tokenizer), LoraRun.of(spec),
                               manifest.id)
    model.save_pretrained(str(out))
    return losses, len(examples)


def build_adapter(manifest: ModelManifest, settings: Settings, force: bool = False
                  ) -> BuildResult:
    """Train the adapter unless this exact build is already cached (`force` retrains)."""
    if manifest.adapter is None:
        raise ValueError(f"{manifest.id} is not an industry model (no adapter:)")
    target = adapter_dir(manifest, settings)
    state = adapter_state(manifest, settings)
    if state.built and not force:
        info = read_json(target / BUILD_FILE) or {}
        return BuildResult(target, True, float(info.get("seconds", 0.0)),
                           info.get("first_loss"), info.get("final_loss"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    started = time.monotonic()
    try:
        losses, count = _train(manifest, settings, tmp)
        seconds = round(time.monotonic() - started, 1)
        info = {"model": manifest.id, "key": build_key(manifest, settings),
                "base": manifest.base, "adapter": manifest.adapter.model_dump(mode="json"),
                "examples": count, "seconds": seconds, "first_loss": losses[0],
                "final_loss": losses[-1], "losses": losses}
        (tmp / BUILD_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(target, False, seconds, losses[0], losses[-1])
