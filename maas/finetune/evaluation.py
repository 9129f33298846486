"""`maas models eval`: the base and the adapter answer the held-out questions; each answer
scores the share of expected facts it contains. Greedy decoding, the model's system prompt
for both, so the only difference is the adapter. The verdict (`ready` only when the
adapter's mean score beats the base's) is written to `eval.json` next to the adapter,
where the registry reads it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from maas.catalog.models import ModelManifest
from maas.finetune.datasets import EvalItem, dataset_dir, fact_score, load_eval
from maas.finetune.store import EVAL_FILE, adapter_state, build_key
from maas.finetune.training import base_weights_dir, load_base, with_system
from maas.settings import Settings

#: New tokens per answer: the datasets' answers are one or two sentences.
MAX_NEW_TOKENS = 80


@dataclass(frozen=True)
class EvalResult:
    model: str
    key: str
    base_score: float
    adapter_score: float
    ready: bool
    seconds: float
    items: list[dict[str, Any]]


def greedy_answers(model: Any, tokenizer: Any, prompts: list[list[dict[str, str]]],
                   max_new_tokens: int = MAX_NEW_TOKENS) -> list[str]:
    """Greedy answers, batched with left padding (the tokenizer is left as it was found).

    Shared by `maas models eval` and tenant fine-tuning jobs' held-out scoring."""
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
             for p in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    tokenizer.padding_side = side
    width = batch["input_ids"].shape[1]
    return [tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in out]


def evaluate_adapter(manifest: ModelManifest, settings: Settings) -> EvalResult:
    """Score base and adapter on eval.jsonl and record the verdict next to the adapter."""
    from peft import PeftModel

    if manifest.adapter is None:
        raise ValueError(f"{manifest.id} is not an industry model (no adapter:)")
    state = adapter_state(manifest, settings)
    if not state.built:
        raise FileNotFoundError(state.reason)
    items: list[EvalItem] = load_eval(
        dataset_dir(settings.models_dir, manifest.adapter.dataset) / "eval.jsonl")
    started = time.monotonic()
    base, tokenizer = load_base(base_weights_dir(manifest, settings), manifest.chat_template,
                                settings.torch_threads, manifest.adapter.seed)
    model = PeftModel.from_pretrained(base.eval(), str(state.path)).eval()
    prompts = [with_system(manifest, [{"role": "user", "content": i.question}]) for i in items]
    with model.disable_adapter():
        base_answers = greedy_answers(model, tokenizer, prompts)
    adapter_answers = greedy_answers(model, tokenizer, prompts)
    rows = []
    for item, base_answer, adapter_answer in zip(items, base_answers, adapter_answers,
                                                 strict=True):
        rows.append({"question": item.question, "facts": item.facts,
                     "base_answer": base_answer, "base_score": fact_score(base_answer, item.facts),
                     "adapter_answer": adapter_answer,
                     "adapter_score": fact_score(adapter_answer, item.facts)})
    base_score = round(sum(r["base_score"] for r in rows) / len(rows), 3)
    adapter_score = round(sum(r["adapter_score"] for r in rows) / len(rows), 3)
    result = EvalResult(manifest.id, build_key(manifest, settings), base_score, adapter_score,
                        adapter_score > base_score, round(time.monotonic() - started, 1), rows)
    (state.path / EVAL_FILE).write_text(json.dumps(asdict(result), indent=1,
                                                   ensure_ascii=False), encoding="utf-8")
    return result
