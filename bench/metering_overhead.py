"""Metering overhead: the gateway path with limits and metering on vs off.

Processes on loopback: the mock engine (tests/support/fake_worker.py) and, per database
(SQLite in a temp data dir; PostgreSQL in a throw-away database), two gateways sharing
that database: one metered (default) and one with `MAAS_METERING=false`. PostgreSQL adds
a third, metered gateway with the shared Redis rate limiter (db 14, flushed before and
after). Every metered request runs the whole path: rate-limit acquire/settle, a monthly
token quota, a credit hold and settlement (usage record + ledger debit) in the database,
for a prepaid plan whose limits never deny. All paths use the same tenant key. Each round
measures off, on (and on+redis) back to back with 32 concurrent non-streaming chat
requests; the figures are medians and [min..max] over the rounds. Afterwards the usage
records of the tenant are checked against the number of metered requests sent.

    python bench/metering_overhead.py [--requests 500] [--rounds 5] [--concurrency 32]
                                      [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx
import psycopg
import redis

from _common import PYTHON, free_port, load, percentile, spread, start, stop, wait_http

KEY = "sk-maas-bench-admin-key"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
REDIS_URL = "redis://127.0.0.1:6379/14"
WARMUP = 200
LIMITS = {"requests_per_minute": 1_000_000, "tokens_per_minute": 100_000_000,
          "concurrent": 1000, "monthly_tokens": 10_000_000_000}


def pg_admin(statement: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def flush_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def setup_tenant(base: str) -> str:
    """Plan, tenant, credits and a tenant key through the admin API; returns the key."""
    admin = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
        for path, body in (
                ("/admin/v1/plans", {"id": "bench", "name": "Bench", "billing": "prepaid",
                                     "limits": LIMITS}),
                ("/admin/v1/tenants", {"id": "bench", "name": "Bench", "plan": "bench"}),
                ("/admin/v1/tenants/bench/credits", {"amount": 1_000_000})):
            client.post(path, json=body).raise_for_status()
        response = client.post("/api/v1/tenants/bench/keys",
                               json={"name": "bench", "role": "tenant_owner"})
        response.raise_for_status()
        return str(response.json()["key"])


def accounts(base: str) -> tuple[int, float]:
    """Usage records and available credits of tenant `bench`."""
    admin = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
        report = client.get("/api/v1/tenants/bench/usage/report", params={"group_by": "model"})
        report.raise_for_status()
        balance = client.get("/api/v1/tenants/bench/credits")
        balance.raise_for_status()
    rows = report.json()["data"]
    return (int(rows[0]["requests"]) if rows else 0), float(balance.json()["available"])


def bench_database(database: str, work: Path, mock_port: int,
                   args: argparse.Namespace) -> None:
    paths = ["off", "on", "on+redis"] if database == "postgresql" else ["off", "on"]
    pg_name = f"maas_bench_{uuid.uuid4().hex[:8]}" if database == "postgresql" else None
    data_dir = work / f"data-{database}"
    env = {"MAAS_DATA_DIR": str(data_dir), "MAAS_MODELS_DIR": str(work / "models"),
           "MAAS_ADMIN_API_KEY": KEY, "MAAS_LOG_LEVEL": "warning",
           "MAAS_SUPERVISE_WORKERS": "false",
           "MAAS_DATABASE_URL": (PG_URL.format(name=pg_name) if pg_name
                                 else f"sqlite:///{data_dir / 'maas.db'}")}
    extra = {"on": {}, "off": {"MAAS_METERING": "false"},
             "on+redis": {"MAAS_REDIS_URL": REDIS_URL}}
    gateways: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    try:
        if pg_name:
            pg_admin(f'CREATE DATABASE "{pg_name}"')
            flush_redis()
        for path in ["on", *[p for p in paths if p != "on"]]:  # "on" first: it migrates
            ports[path] = free_port()
            gateways[path] = start(
                [PYTHON, "-m", "maas", "serve", "--port", str(ports[path])],
                env={**env, **extra[path]}, log=work / f"gateway-{database}-{path}.log")
            wait_http(f"http://127.0.0.1:{ports[path]}/readyz", 60, gateways[path])
        on_base = f"http://127.0.0.1:{ports['on']}"
        tenant_key = setup_tenant(on_base)
        auth = {"authorization": f"Bearer {tenant_key}"}
        urls = {p: f"http://127.0.0.1:{ports[p]}/v1/chat/completions" for p in paths}
        records_before, credits_before = accounts(on_base)
        metered = 0
        for path in paths:  # warm up every path
            asyncio.run(load(urls[path], auth, WARMUP, args.concurrency))
            metered += WARMUP if path != "off" else 0
        rows: dict[str, dict[str, list[float]]] = {
            p: {k: [] for k in ("p50", "p99", "rps", "a50", "a99")} for p in paths}
        for _ in range(args.rounds):
            for path in paths:
                lat, rps = asyncio.run(load(urls[path], auth, args.requests, args.concurrency))
                metered += args.requests if path != "off" else 0
                row = rows[path]
                row["p50"].append(percentile(lat, 50) * 1e3)
                row["p99"].append(percentile(lat, 99) * 1e3)
                row["rps"].append(rps)
                if path != "off":
                    row["a50"].append(row["p50"][-1] - rows["off"]["p50"][-1])
                    row["a99"].append(row["p99"][-1] - rows["off"]["p99"][-1])
        records_after, credits_after = accounts(on_base)
        print(f"metering overhead, {database}: {args.rounds} rounds x {args.requests} requests, "
              f"{args.concurrency} concurrent, non-streaming chat (median [min..max])")
        for path in paths:
            row = rows[path]
            print(f"  {path:<9} p50 {spread(row['p50'])} ms   p99 {spread(row['p99'])} ms   "
                  f"{spread(row['rps'])} req/s")
        off_rps = statistics.median(rows["off"]["rps"])
        for path in paths[1:]:
            row = rows[path]
            print(f"  added {path:<9} p50 {spread(row['a50'])} ms   p99 {spread(row['a99'])} ms"
                  f"   throughput ratio {path}/off "
                  f"{statistics.median(row['rps']) / off_rps:.2f}")
        recorded = records_after - records_before
        debited = credits_before - credits_after
        print(f"  check     usage records {recorded} for {metered} metered requests "
              f"({'ok' if recorded == metered else 'MISMATCH'}); credits available "
              f"{credits_before:.4f} -> {credits_after:.4f} "
              f"({'debited' if debited > 0 else 'NOT DEBITED'} {debited:.4f})")
    finally:
        for proc in gateways.values():
            stop(proc)
        if pg_name:
            pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            flush_redis()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = set(databases) - {"sqlite", "postgresql"}
    if unknown or not databases:
        parser.error(f"--databases takes sqlite and/or postgresql, not {sorted(unknown)}")

    work = Path(tempfile.mkdtemp(prefix="maas-bench-"))
    mock_port = free_port()
    (work / "models").mkdir()
    (work / "models" / "mock.yaml").write_text(
        "id: mock\nkind: chat\nfamily: mock\ncontext_length: 1024\n"
        "pricing: {input_per_1k: 0.5, output_per_1k: 1.0}\nengines:\n"
        f"  - {{kind: remote, base_url: 'http://127.0.0.1:{mock_port}/v1'}}\n")
    mock = start([PYTHON, "-m", "tests.support.fake_worker", "--port", str(mock_port)])
    try:
        wait_http(f"http://127.0.0.1:{mock_port}/health", 30, mock)
        for database in databases:
            bench_database(database, work, mock_port, args)
    except BaseException:
        print(f"failed; gateway logs are in {work}")
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        stop(mock)


if __name__ == "__main__":
    main()
