"""`python -m maas.finetune.jobs.train SPEC.json`: one fine-tuning job, in its own process.

The runner writes SPEC.json (base manifest, file paths, hyperparameters, output directory)
and reads this process's protocol lines (`maas.finetune.jobs.protocol`). The adapter is
trained with the same loop as industry builds (`maas.finetune.training.train_lora`),
seeded, then scored against its base on the held-out split: mean token loss of the
reference answers (lower is better), next-token accuracy on them, and the word F1 of a
greedy answer against the reference. The adapter is *ready* only if its held-out loss is
lower AND its answer F1 is not lower than the base's; otherwise `eval.json` says so and
the runner registers nothing. Files are written into the output directory, which the
runner renames into place only after this process exited cleanly.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from maas.catalog.models import ModelManifest
from maas.finetune.datasets import DatasetError, load_train
from maas.finetune.evaluation import greedy_answers
from maas.finetune.jobs import plan
from maas.finetune.jobs.protocol import Emitter
from maas.finetune.store import BUILD_FILE, EVAL_FILE
from maas.finetune.training import (
    LoraRun,
    encode_example,
    load_base,
    pad_id_of,
    train_lora,
)
from maas.protocol import with_system_prompt

#: New tokens per generated held-out answer.
MAX_NEW_TOKENS = 64


class JobFailed(Exception):
    """A failure the user can act on: reported as the job's error with `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def word_f1(answer: str, reference: str) -> float:
    """Word-overlap F1 of an answer against the reference answer (SQuAD style)."""
    got, want = Counter(_words(answer)), Counter(_words(reference))
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def heldout_loss(model: Any, examples: list[tuple[list[int], list[int]]]) -> tuple[float, float]:
    """(mean loss per answer token, next-token accuracy on answer tokens), teacher-forced."""
    import torch

    total, right, count = 0.0, 0, 0
    with torch.inference_mode():
        for ids, labels in examples:
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            target = torch.tensor(labels[1:])
            mask = target != -100
            losses = torch.nn.functional.cross_entropy(logits[mask], target[mask],
                                                       reduction="sum")
            total += float(losses)
            right += int((logits[mask].argmax(-1) == target[mask]).sum())
            count += int(mask.sum())
    return total / max(1, count), right / max(1, count)


def _score(model: Any, tokenizer: Any, examples: list[tuple[list[int], list[int]]],
           chats: list[list[dict[str, str]]]) -> dict[str, Any]:
    loss, accuracy = heldout_loss(model, examples)
    said = greedy_answers(model, tokenizer, [c[:-1] for c in chats], MAX_NEW_TOKENS)
    f1 = [word_f1(a, c[-1]["content"]) for a, c in zip(said, chats, strict=True)]
    return {"loss": round(loss, 4), "token_accuracy": round(accuracy, 4),
            "answer_f1": round(sum(f1) / len(f1), 4), "answers": said}


def _load(path: str, what: str) -> list[list[dict[str, str]]]:
    try:
        return load_train(Path(path))
    except DatasetError as exc:
        raise JobFailed("invalid_file", f"{what}: {exc}") from exc


def run(spec: dict[str, Any], emit: Emitter) -> None:
    from maas.worker.convert import ensure_converted

    started = time.monotonic()
    base = ModelManifest.model_validate(spec["base"])
    chats = _load(spec["training_path"], "training file")
    if spec.get("validation_path"):
        train_chats, eval_chats = chats, _load(spec["validation_path"], "validation file")
        eval_chats = eval_chats[:plan.EVAL_CAP]
        how = "the validation file"
    else:
        train_idx, eval_idx = plan.split(len(chats), spec["seed"])
        train_chats = [chats[i] for i in train_idx]
        eval_chats = [chats[i] for i in eval_idx]
        how = f"held out from the training file (seed {spec['seed']})"
    hp = plan.Hyperparameters.model_validate(spec["hyperparameters"])
    resolved = plan.resolve(hp, len(train_chats))
    emit.event(f"Training on {len(train_chats)} examples; evaluating on {len(eval_chats)} "
               f"{how}", data={"train_examples": len(train_chats),
                               "eval_examples": len(eval_chats)})
    emit.event(f"Loading base model {base.id}")
    weights = ensure_converted(base, Path(spec["cache_dir"]))
    run_ = LoraRun(plan.RANK, plan.ALPHA, 0.0, resolved.steps, resolved.batch_size,
                   resolved.learning_rate, spec["seed"], plan.TARGET_MODULES)
    model, tokenizer = load_base(weights, base.chat_template, spec.get("torch_threads"),
                                 spec["seed"])
    train_prompts = [with_system_prompt(base.system_prompt, c) for c in train_chats]
    eval_prompts = [with_system_prompt(base.system_prompt, c) for c in eval_chats]
    try:
        train_examples = [encode_example(tokenizer, c) for c in train_prompts]
        eval_examples = [encode_example(tokenizer, c) for c in eval_prompts]
    except ValueError as exc:
        raise JobFailed("invalid_file", f"a chat does not fit the base's template: {exc}"
                        ) from exc
    batches = run_.batches(len(train_examples))  # what train_lora will train on
    trained_tokens = sum(len(train_examples[i][0]) for batch in batches for i in batch)
    limit = spec.get("max_trained_tokens")
    if limit and trained_tokens > limit:
        raise JobFailed("fine_tuning_tokens_limit",
                        f"this job would train on {trained_tokens} tokens, more than the plan's "
                        f"fine_tuning_tokens limit of {limit}; use fewer epochs or examples")
    emit.event("Scoring the base model on the held-out examples")
    base_scores = _score(model, tokenizer, eval_examples, eval_prompts)
    emit.event(f"Training started: {resolved.steps} steps, batch {resolved.batch_size}, "
               f"{resolved.n_epochs:g} epochs, learning rate {resolved.learning_rate:g}",
               data={"hyperparameters": resolved.as_dict(), "trained_tokens": trained_tokens})

    def on_step(step: int, steps: int, loss: float) -> None:
        emit.event(f"Step {step}/{steps}: training loss={loss:.4f}", type_="metrics",
                   data={"step": step, "total_steps": steps, "train_loss": round(loss, 4)})

    model, losses = train_lora(model, train_examples, pad_id_of(tokenizer), run_,
                               spec["job_id"], on_step)
    emit.event("Scoring the adapter on the held-out examples")
    adapter_scores = _score(model, tokenizer, eval_examples, eval_prompts)
    better = (adapter_scores["loss"] < base_scores["loss"]
              and adapter_scores["answer_f1"] >= base_scores["answer_f1"])
    out = Path(spec["output_dir"])
    model.save_pretrained(str(out))
    seconds = round(time.monotonic() - started, 1)
    build = {"model": spec["model_id"], "job": spec["job_id"], "base": base.id,
             "hyperparameters": resolved.as_dict(), "seed": spec["seed"],
             "train_examples": len(train_chats), "eval_examples": len(eval_chats),
             "trained_tokens": trained_tokens, "seconds": seconds,
             "first_loss": losses[0], "final_loss": losses[-1], "losses": losses}
    rows = [{"question": c[-2]["content"], "reference": c[-1]["content"],
             "base_answer": b, "adapter_answer": a}
            for c, b, a in zip(eval_chats, base_scores.pop("answers"),
                               adapter_scores.pop("answers"), strict=True)]
    evaluation = {"model": spec["model_id"], "metric": "held-out loss (lower is better)",
                  "base_score": base_scores["answer_f1"],
                  "adapter_score": adapter_scores["answer_f1"],
                  "base": base_scores, "adapter": adapter_scores, "ready": better,
                  "rule": "ready when the adapter's held-out loss is lower and its answer "
                          "F1 is not lower than the base's",
                  "eval_examples": len(eval_chats), "items": rows}
    (out / BUILD_FILE).write_text(json.dumps(build, indent=1), encoding="utf-8")
    (out / EVAL_FILE).write_text(json.dumps(evaluation, indent=1, ensure_ascii=False),
                                 encoding="utf-8")
    emit.event(f"Held-out loss: base {base_scores['loss']:.4f}, adapter "
               f"{adapter_scores['loss']:.4f}; answer F1: base {base_scores['answer_f1']:.3f}, "
               f"adapter {adapter_scores['answer_f1']:.3f}", type_="metrics",
               data={"base": base_scores, "adapter": adapter_scores, "ready": better})
    emit.result(trained_tokens, {k: v for k, v in evaluation.items() if k != "items"})


def main(argv: list[str]) -> int:
    """Protocol lines go to the original stdout; anything libraries print goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    emit = Emitter(protocol)
    try:
        spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
        run(spec, emit)
    except JobFailed as exc:
        emit.error(exc.code, str(exc))
        return 3
    except MemoryError:
        emit.error("out_of_memory", "the training process ran out of memory")
        return 4
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
