"""Metering under concurrency, for real: PostgreSQL for credits, Redis shared by two
`maas serve` processes for a tokens-per-minute limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from maas.app import create_app
from maas.settings import REPO_ROOT, Settings
from tests.conftest import ADMIN_KEY, REDIS_URL, write_fake_manifests
from tests.support.fake_engine import create_fake_engine, free_port, serve_in_thread
from tests.support.tenancy import ADMIN, bearer, grant, make_plan, make_tenant, ok

pytestmark = [pytest.mark.postgres]


async def _burst(urls: list[str], key: str, n: int, **extra: object) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(
            client.post(f"{urls[i % len(urls)]}/v1/chat/completions", headers=bearer(key),
                        json={"model": "fake-chat", "messages": [{"role": "user",
                                                                  "content": "hello"}],
                              **extra})
            for i in range(n)))


def _ledger_facts(pg_url: str, tenant_id: str) -> dict[str, int]:
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        one = lambda sql: int(conn.execute(sa.text(sql), {"t": tenant_id}).scalar() or 0)  # noqa: E731
        facts = {
            "ledger": one("SELECT SUM(amount) FROM ledger_entries WHERE tenant_id = :t"),
            "debits": one("SELECT -SUM(amount) FROM ledger_entries "
                          "WHERE tenant_id = :t AND kind = 'debit'"),
            "usage_cost": one("SELECT SUM(cost) FROM usage_records WHERE tenant_id = :t"),
            "usage_rows": one("SELECT COUNT(*) FROM usage_records WHERE tenant_id = :t"),
            "available": one("SELECT SUM(remaining) FROM credit_lots WHERE tenant_id = :t"),
            "held": one("SELECT SUM(held) FROM credit_lots WHERE tenant_id = :t"),
            "negative": one("SELECT COUNT(*) FROM credit_lots WHERE tenant_id = :t "
                            "AND (remaining < 0 OR held < 0)"),
            "holds": one("SELECT COUNT(*) FROM credit_holds WHERE tenant_id = :t"),
            "debit_rows_without_usage": one(
                "SELECT COUNT(*) FROM ledger_entries l LEFT JOIN usage_records u "
                "ON u.id = l.usage_id WHERE l.tenant_id = :t AND l.kind = 'debit' "
                "AND u.id IS NULL"),
        }
    engine.dispose()
    return facts


def test_fifty_concurrent_requests_never_overdraw(pg_url: str, tmp_path: Path) -> None:
    """50 concurrent chats against credits for about 10: exact books, never negative."""
    with serve_in_thread(create_fake_engine(delay=0.2)) as engine_url:
        write_fake_manifests(tmp_path / "models", engine_url)
        settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                            database_url=pg_url, admin_api_key=ADMIN_KEY,
                            supervise_workers=False, _env_file=None)
        with serve_in_thread(create_app(settings)) as base:
            make_plan(base, "roomy", concurrent=100, requests_per_minute=1000)
            a = make_tenant(base, "burst", plan="roomy")
            # Each request holds 25 prompt tokens x 500 + 5 completion x 1000 = 17_500
            # and costs 2_500: the balance covers about 10 holds at once.
            initial = 175_000
            grant(base, a.id, initial / 1_000_000)
            responses = asyncio.run(_burst([base], a.key, 50, max_tokens=5))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 402}, codes
    assert 10 <= codes.count(200) < 50 and codes.count(402) > 0
    assert all(r.json()["error"]["code"] == "insufficient_credits"
               for r in responses if r.status_code == 402)
    facts = _ledger_facts(pg_url, "burst")
    assert facts["usage_rows"] == codes.count(200)  # refused requests were not charged
    assert facts["debits"] == facts["usage_cost"] == 2_500 * codes.count(200)
    assert facts["debits"] <= initial
    assert facts["held"] == 0 and facts["holds"] == 0 and facts["negative"] == 0
    assert facts["available"] == initial - facts["debits"] >= 0
    assert facts["ledger"] == facts["available"] + facts["held"]
    assert facts["debit_rows_without_usage"] == 0


def _start_gateway(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "maas", "serve", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"gateway did not start: {log.read_text()[-3000:]}")


@pytest.fixture
def redis_prefix_clean() -> Iterator[None]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.mark.redis
def test_tokens_per_minute_shared_by_two_gateways(pg_url: str, tmp_path: Path,
                                                  redis_prefix_clean: None) -> None:
    """Two gateway processes, one Redis: one budget, not one per process."""
    with serve_in_thread(create_fake_engine(delay=0.5)) as engine_url:
        write_fake_manifests(tmp_path / "models", engine_url)
        env = {**os.environ, "MAAS_DATABASE_URL": pg_url, "MAAS_REDIS_URL": REDIS_URL,
               "MAAS_ADMIN_API_KEY": ADMIN_KEY, "MAAS_MODELS_DIR": str(tmp_path / "models"),
               "MAAS_SUPERVISE_WORKERS": "false", "MAAS_LOG_LEVEL": "warning"}
        ports = [free_port(), free_port()]
        procs = []
        try:
            for i, port in enumerate(ports):  # one after the other: the first migrates
                procs.append(_start_gateway({**env, "MAAS_DATA_DIR": str(tmp_path / f"d{i}")},
                                            port, tmp_path / f"gw{i}.log"))
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            make_plan(urls[0], "metered", billing="postpaid", tokens_per_minute=1000,
                      concurrent=100)
            a = make_tenant(urls[0], "shared", plan="metered")
            # Each request reserves 25 (prompt estimate) + 75 (max_tokens) = 100 tokens.
            started = time.monotonic()
            responses = asyncio.run(_burst(urls, a.key, 50, max_tokens=75))
            elapsed = time.monotonic() - started
            usage = ok(httpx.get(f"{urls[1]}/api/v1/tenants/shared/usage?limit=1000",
                                 headers=ADMIN))["data"]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, codes
    refill = int(elapsed * 1000 / 60 / 100) + 1  # requests' worth refilled during the burst
    assert 10 <= codes.count(200) <= 10 + refill, (codes.count(200), elapsed)
    assert codes.count(200) < 20  # per-process budgets would have admitted 20
    denied = [r for r in responses if r.status_code == 429]
    assert all(r.headers["x-ratelimit-limit-tokens"] == "1000" for r in denied)
    assert all("retry-after" in r.headers for r in denied)
    limited = {r.url.port for r in responses if "x-ratelimit-remaining-tokens" in r.headers}
    assert limited == set(ports)  # both gateways enforced the one shared budget
    assert len(usage) == codes.count(200)
