"""Engine throughput through the gateway: tokens/s for 1 stream vs N concurrent streams.

Starts `maas serve` with only the chosen model enabled (a CPU worker by default), then
for each round runs one streaming request alone and N at once, each generating exactly
`--tokens` tokens (greedy, `ignore_eos`-free prompt that keeps talking), and reports
aggregate completion tokens per second from the usage the API returns.

    python bench/engine_throughput.py [--model smollm2-135m-instruct] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import openai

from _common import PYTHON, REPO, free_port, spread, start, stop, wait_http

KEY = "sk-maas-bench-admin-key"
PROMPT = "Write a long, detailed essay about the history of industrial machine tools."


async def one_stream(client: openai.AsyncOpenAI, model: str, tokens: int, seed: int) -> int:
    stream = await client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=tokens,
        temperature=0.8, seed=seed, stream=True, stream_options={"include_usage": True})
    used = 0
    async for chunk in stream:
        if chunk.usage:
            used = chunk.usage.completion_tokens
    return used


async def measure(client: openai.AsyncOpenAI, model: str, tokens: int, n: int) -> float:
    started = time.perf_counter()
    counts = await asyncio.gather(*(one_stream(client, model, tokens, i) for i in range(n)))
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=str(Path.home() / ".maas-bench"),
                        help="kept between runs so weights are converted once")
    args = parser.parse_args()

    models = Path(tempfile.mkdtemp(prefix="maas-bench-models-"))
    shutil.copy(REPO / "models" / f"{args.model}.yaml", models)
    port = free_port()
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    gateway = start([PYTHON, "-m", "maas", "serve", "--port", str(port)], env={
        "MAAS_DATA_DIR": str(data), "MAAS_MODELS_DIR": str(models),
        "MAAS_ADMIN_API_KEY": KEY, "MAAS_LOG_LEVEL": "warning",
        "MAAS_DATABASE_URL": f"sqlite:///{models / 'bench.db'}"}, log=data / "bench-serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", 900, gateway)
        client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                                    timeout=600, max_retries=0)

        async def run() -> tuple[list[float], list[float]]:
            await measure(client, args.model, 16, 2)  # warm-up
            single, many = [], []
            for _ in range(args.rounds):
                single.append(await measure(client, args.model, args.tokens, 1))
                many.append(await measure(client, args.model, args.tokens, args.concurrency))
            return single, many

        single, many = asyncio.run(run())
        print(f"engine throughput through the gateway: {args.model}, {args.tokens} tokens per "
              f"stream, {args.rounds} rounds, {os.cpu_count()} CPUs (median [min..max])")
        print(f"  1 stream      {spread(single)} tokens/s")
        print(f"  {args.concurrency} concurrent  {spread(many)} tokens/s aggregate")
        print(f"  speed-up      {statistics.median(many) / statistics.median(single):.2f}x")
    finally:
        stop(gateway)
        shutil.rmtree(models, ignore_errors=True)


if __name__ == "__main__":
    main()
