"""A stand-in for `maas.finetune.jobs.train` in API tests: speaks the same protocol and
writes the same files (adapter config, a tiny safetensors file, build.json, eval.json)
without loading a model, so the runner's life cycle is tested in seconds.

`MAAS_FAKE_TRAINER` picks the behaviour: `ok` (default), `worse` (the adapter loses to its
base), `slow` (a step every second: for cancel tests), `crash` (exits 1 after a traceback).
The process writes its pid to `<output_dir>/../pid` so a test can check it was killed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from maas.finetune.jobs import plan
from maas.finetune.jobs.protocol import Emitter


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    mode = os.environ.get("MAAS_FAKE_TRAINER", "ok")
    out = Path(spec["output_dir"])
    (out.parent / "pid").write_text(str(os.getpid()))
    emit = Emitter(sys.stdout)
    lines = Path(spec["training_path"]).read_text(encoding="utf-8").splitlines()
    train, held = plan.split(len(lines), spec["seed"])
    resolved = plan.resolve(plan.Hyperparameters.model_validate(spec["hyperparameters"]),
                            len(train))
    emit.event(f"Training on {len(train)} examples; evaluating on {len(held)}")
    if mode == "crash":
        print("Traceback: something broke", file=sys.stderr)
        return 1
    steps = resolved.steps if mode != "slow" else 1000
    for step in range(1, min(steps, 5 if mode != "slow" else 1000) + 1):
        emit.event(f"Step {step}/{steps}: training loss={2.0 / step:.4f}", type_="metrics",
                   data={"step": step, "total_steps": steps, "train_loss": 2.0 / step})
        if mode == "slow":
            time.sleep(1)
    (out / "adapter_config.json").write_text("{}")
    (out / "adapter_model.safetensors").write_bytes(b"\0" * 8)
    ready = mode != "worse"
    base = {"loss": 2.5, "token_accuracy": 0.4, "answer_f1": 0.1}
    adapter = {"loss": 1.0 if ready else 3.0, "token_accuracy": 0.7, "answer_f1": 0.6}
    evaluation = {"base_score": 0.1, "adapter_score": adapter["answer_f1"], "base": base,
                  "adapter": adapter, "ready": ready}
    (out / "build.json").write_text(json.dumps({"job": spec["job_id"]}))
    (out / "eval.json").write_text(json.dumps(evaluation))
    tokens = 100 * resolved.steps
    emit.result(tokens, evaluation)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
