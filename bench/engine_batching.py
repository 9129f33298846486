"""Tokens/s of the CPU worker itself: 1 stream vs N concurrent streams.

Starts `python -m maas.worker.server` for a model, then for each round sends one request
alone and N at once, every request generating exactly `--tokens` tokens (`ignore_eos`)
with streaming, and reports aggregate completion tokens per second as
median [min..max] over the rounds.

    python bench/engine_batching.py --model smollm2-135m-instruct --concurrency 8 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from _common import free_port, spread, start, stop, wait_http

PROMPTS = ["Tell me a long story about a lighthouse keeper.",
           "Explain how a steam engine works.", "Describe the city of Paris in detail.",
           "Write a letter to a friend about your holidays.", "What is machine learning?",
           "Give me a recipe for bread.", "Summarise the history of Rome.",
           "Why is the sky blue?"]


async def _one(client: httpx.AsyncClient, url: str, model: str, prompt: str,
               tokens: int, completions: bool) -> int:
    body = {"model": model, "max_tokens": tokens, "ignore_eos": True, "temperature": 0.7,
            "stream": True, "stream_options": {"include_usage": True}, "stop": []}
    if completions:
        body["prompt"] = prompt
    else:
        body["messages"] = [{"role": "user", "content": prompt}]
    endpoint = "completions" if completions else "chat/completions"
    used = 0
    async with client.stream("POST", f"{url}/v1/{endpoint}", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    used = chunk["usage"]["completion_tokens"]
    return used


async def _round(url: str, model: str, concurrency: int, tokens: int,
                 completions: bool = False) -> float:
    async with httpx.AsyncClient(timeout=600) as client:
        started = time.perf_counter()
        counts = await asyncio.gather(*[
            _one(client, url, model, PROMPTS[i % len(PROMPTS)], tokens, completions)
            for i in range(concurrency)])
        return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--completions", action="store_true",
                        help="use /v1/completions (base models such as gemma-3-270m)")
    parser.add_argument("--data-dir", default=os.environ.get("MAAS_DATA_DIR"),
                        help="reuse converted weights (default: a temporary dir)")
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="maas-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(["python", "-m", "maas.worker.server", "--model", args.model,
                  "--port", str(port)],
                 env={"MAAS_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
                      "MAAS_MAX_BATCH_SIZE": str(max(16, args.concurrency)),
                      "MAAS_LOG_LEVEL": "warning"},
                 log=data_dir / "bench-worker.log")
    try:
        wait_http(f"{url}/health", 600, proc)
        asyncio.run(_round(url, args.model, 1, 16, args.completions))  # warm-up
        single, multi = [], []
        for _ in range(args.rounds):
            single.append(asyncio.run(_round(url, args.model, 1, args.tokens, args.completions)))
            multi.append(asyncio.run(_round(url, args.model, args.concurrency, args.tokens,
                                            args.completions)))
        ratio = sorted(m / s for m, s in zip(multi, single, strict=True))[len(multi) // 2]
        print(f"model {args.model}, {args.tokens} tokens per request, {args.rounds} rounds")
        print(f"  1 stream:            {spread(single)} tok/s")
        print(f"  {args.concurrency} concurrent streams: {spread(multi)} tok/s aggregate")
        print(f"  speed-up (median of per-round ratios): {ratio:.2f}x")
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
