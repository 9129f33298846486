"""Gateway overhead: a mock OpenAI upstream called directly vs through the gateway.

Three processes on loopback: the mock engine (tests/support/fake_engine.py under uvicorn),
the gateway (`maas serve`, with one remote model pointing at the mock) and this load
generator (32 concurrent non-streaming chat requests). Each round measures both paths
back to back; the figures are medians and [min..max] over the rounds.

    python bench/gateway_overhead.py [--requests 1000] [--rounds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from _common import PYTHON, free_port, load, percentile, spread, start, stop, wait_http

KEY = "sk-maas-bench-admin-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="maas-bench-"))
    mock_port, gw_port = free_port(), free_port()
    (work / "models").mkdir()
    (work / "models" / "mock.yaml").write_text(
        "id: mock\nkind: chat\nfamily: mock\ncontext_length: 1024\n"
        "pricing: {input_per_1k: 0.5, output_per_1k: 1.0}\nengines:\n"
        f"  - {{kind: remote, base_url: 'http://127.0.0.1:{mock_port}/v1'}}\n")
    mock = start([PYTHON, "-m", "tests.support.fake_worker", "--port", str(mock_port)])
    gateway = start([PYTHON, "-m", "maas", "serve", "--port", str(gw_port)], env={
        "MAAS_DATA_DIR": str(work / "data"), "MAAS_MODELS_DIR": str(work / "models"),
        "MAAS_ADMIN_API_KEY": KEY, "MAAS_LOG_LEVEL": "warning"}, log=work / "gateway.log")
    try:
        wait_http(f"http://127.0.0.1:{mock_port}/health", 30, mock)
        wait_http(f"http://127.0.0.1:{gw_port}/readyz", 60, gateway)
        direct_url = f"http://127.0.0.1:{mock_port}/v1/chat/completions"
        gw_url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        auth = {"authorization": f"Bearer {KEY}"}
        asyncio.run(load(gw_url, auth, 200, args.concurrency))  # warm up both paths
        asyncio.run(load(direct_url, {}, 200, args.concurrency))
        rows: dict[str, list[float]] = {k: [] for k in
                                        ("d50", "d99", "g50", "g99", "a50", "a99", "drps", "grps")}
        for _ in range(args.rounds):
            d_lat, d_rps = asyncio.run(load(direct_url, {}, args.requests, args.concurrency))
            g_lat, g_rps = asyncio.run(load(gw_url, auth, args.requests, args.concurrency))
            d50, d99 = percentile(d_lat, 50) * 1e3, percentile(d_lat, 99) * 1e3
            g50, g99 = percentile(g_lat, 50) * 1e3, percentile(g_lat, 99) * 1e3
            for key, value in (("d50", d50), ("d99", d99), ("g50", g50), ("g99", g99),
                               ("a50", g50 - d50), ("a99", g99 - d99),
                               ("drps", d_rps), ("grps", g_rps)):
                rows[key].append(value)
        print(f"gateway overhead: {args.rounds} rounds x {args.requests} requests, "
              f"{args.concurrency} concurrent, non-streaming chat (median [min..max])")
        print(f"  direct   p50 {spread(rows['d50'])} ms   p99 {spread(rows['d99'])} ms   "
              f"{spread(rows['drps'])} req/s")
        print(f"  gateway  p50 {spread(rows['g50'])} ms   p99 {spread(rows['g99'])} ms   "
              f"{spread(rows['grps'])} req/s")
        print(f"  added    p50 {spread(rows['a50'])} ms   p99 {spread(rows['a99'])} ms   "
              f"throughput ratio gateway/direct "
              f"{statistics.median(rows['grps']) / statistics.median(rows['drps']):.2f}")
    finally:
        stop(gateway)
        stop(mock)


if __name__ == "__main__":
    main()
