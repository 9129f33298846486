"""`python -m maas.vllm_launcher`: convert a model's weights if needed, then become vLLM.

An entry point like `maas worker`, kept out of `maas.engines` because it uses the CPU worker's
GGUF conversion (`maas.worker.convert`, which imports torch) and the engines layer must not:
the gateway imports `maas.engines` and never torch. The supervisor runs it in the gateway's
interpreter, as its own process; it `exec`s the vLLM interpreter at the end, so the pid the
supervisor watches and signals is vLLM's own. See `maas.engines.vllm_server` for the why of
each argument.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from maas.catalog.models import load_model_manifest
from maas.engines.vllm_server import chat_template_file, vllm_argv, vllm_env
from maas.settings import Settings
from maas.worker.convert import ensure_converted

log = logging.getLogger(__name__)


def parse_adapter(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, path


def main(argv: Sequence[str] | None = None) -> None:
    """Convert the weights if needed, then become the vLLM server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="manifest id")
    parser.add_argument("--python", required=True, help="interpreter with vllm installed")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lora", type=parse_adapter, action="append", default=[],
                        metavar="NAME=PATH", help="a LoRA adapter to serve (repeatable)")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    settings = Settings()
    manifest = load_model_manifest(settings.models_dir / f"{ns.model}.yaml")
    spec = next(e for e in manifest.engines if e.kind == "vllm")
    model_dir = ensure_converted(manifest, settings.cache_dir)
    template = chat_template_file(manifest, model_dir, settings.cache_dir)
    args = vllm_argv(manifest, spec, model_dir, ns.host, ns.port, template, ns.lora,
                      settings.vllm_lora_headroom)
    lora = "--enable-lora" in args
    command = [ns.python, "-m", "vllm.entrypoints.openai.api_server", *args]
    log.info("exec %s", " ".join(command))
    os.execve(ns.python, command, vllm_env(os.environ, lora))


if __name__ == "__main__":
    main()
