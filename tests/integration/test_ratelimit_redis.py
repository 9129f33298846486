"""The Redis rate limiter on a real server, including two replicas sharing one budget."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from maas.limits.ratelimit import RedisLimiter, ScopeLimits, create_limiter

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("MAAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

LimiterFactory = Callable[..., RedisLimiter]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own, deleted afterwards; fails loudly without Redis."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # any failure here means "no usable Redis"
        await client.aclose()
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (set MAAS_TEST_REDIS_URL): {exc}")
    name = f"maas:test:rl:{uuid.uuid4().hex[:10]}:"
    yield name
    keys = [key async for key in client.scan_iter(match=f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def make(prefix: str) -> AsyncIterator[LimiterFactory]:
    """Builds limiters on the test's prefix (each one is a separate 'replica')."""
    made: list[RedisLimiter] = []

    def factory(lease_ttl: float = 900.0) -> RedisLimiter:
        made.append(RedisLimiter(REDIS_URL, prefix=prefix, lease_ttl=lease_ttl))
        return made[-1]

    yield factory
    for limiter in made:
        await limiter.close()


async def test_rpm_burst_deny_and_refill(make: LimiterFactory) -> None:
    limiter = make()
    scope = [ScopeLimits("key:k", requests_per_minute=120)]  # 2 per second
    results = [await limiter.acquire(scope, 0, f"l{i}") for i in range(120)]
    assert all(d.allowed for d in results)
    assert results[-1].headers["x-ratelimit-limit-requests"] == "120"
    denied = await limiter.acquire(scope, 0, "late")
    assert (denied.allowed, denied.reason, denied.scope) == (False, "requests", "key:k")
    assert 0 < denied.retry_after <= 0.5
    assert denied.headers["x-ratelimit-remaining-requests"] == "0"
    await asyncio.sleep(denied.retry_after + 0.05)
    assert (await limiter.acquire(scope, 0, "late")).allowed


async def test_tpm_reservation_refund_debt_and_too_large(make: LimiterFactory) -> None:
    limiter = make()
    scope = [ScopeLimits("key:k", tokens_per_minute=6000)]  # 100 tokens/s
    too_large = await limiter.acquire(scope, 6001, "big")
    assert (too_large.allowed, too_large.too_large, too_large.reason) == (False, True, "tokens")

    assert (await limiter.acquire(scope, 5000, "a")).allowed
    denied = await limiter.acquire(scope, 2000, "b")
    assert (denied.allowed, denied.reason) == (False, "tokens")
    assert 9.0 < denied.retry_after <= 10.0  # ~1000 missing at 100/s

    await limiter.settle(scope, "a", reserved_tokens=5000, used_tokens=1000)  # refund 4000
    assert (await limiter.acquire(scope, 5000, "b")).allowed
    await limiter.settle(scope, "b", reserved_tokens=5000, used_tokens=8000)  # 3000 of debt
    denied = await limiter.acquire(scope, 0, "c")
    assert (denied.allowed, denied.reason) == (False, "tokens")
    assert 25.0 < denied.retry_after <= 30.0
    assert denied.headers["x-ratelimit-remaining-tokens"] == "0"

    await limiter.settle(scope, "c", reserved_tokens=0, used_tokens=10**9)
    capped = await limiter.acquire(scope, 0, "d")
    assert 55.0 < capped.retry_after <= 60.0  # debt floored at -capacity


async def test_concurrency_release_and_lease_expiry(make: LimiterFactory) -> None:
    limiter = make(lease_ttl=0.3)
    scope = [ScopeLimits("key:k", concurrent=2)]
    assert (await limiter.acquire(scope, 0, "a")).allowed
    assert (await limiter.acquire(scope, 0, "b")).allowed
    denied = await limiter.acquire(scope, 0, "c")
    assert (denied.allowed, denied.reason, denied.retry_after) == (False, "concurrent", 1.0)
    await limiter.settle(scope, "a", reserved_tokens=0, used_tokens=0)
    assert (await limiter.acquire(scope, 0, "c")).allowed
    assert not (await limiter.acquire(scope, 0, "d")).allowed
    await asyncio.sleep(0.4)  # "b" and "c" were never settled: a crashed replica
    assert (await limiter.acquire(scope, 0, "d")).allowed
    await limiter.settle(scope, "never-acquired", reserved_tokens=0, used_tokens=0)


async def test_denial_by_key_takes_nothing_from_tenant(make: LimiterFactory) -> None:
    limiter = make()
    tenant = ScopeLimits("tenant:t", requests_per_minute=100, tokens_per_minute=10_000,
                         concurrent=10)
    key = ScopeLimits("key:k", requests_per_minute=2, concurrent=5)
    assert (await limiter.acquire([tenant, key], 100, "a")).allowed
    assert (await limiter.acquire([tenant, key], 100, "b")).allowed
    for i in range(5):
        denied = await limiter.acquire([tenant, key], 100, f"x{i}")
        assert (denied.allowed, denied.reason, denied.scope) == (False, "requests", "key:k")
    alone = await limiter.acquire([tenant], 0, "c")
    assert alone.headers["x-ratelimit-remaining-requests"] == "97"
    assert alone.headers["x-ratelimit-remaining-tokens"] == "9800"
    assert alone.headers["x-ratelimit-limit-tokens"] == "10000"


async def test_two_replicas_share_one_budget_under_load(make: LimiterFactory) -> None:
    replicas = [make(), make()]
    scopes = [ScopeLimits("tenant:t", tokens_per_minute=1000),
              ScopeLimits("key:k", requests_per_minute=1000, concurrent=50)]
    started = time.monotonic()
    decisions = await asyncio.gather(*(
        replicas[i % 2].acquire(scopes, 100, f"lease-{i}") for i in range(50)))
    elapsed = time.monotonic() - started
    admitted = sum(d.allowed for d in decisions)
    refilled = elapsed * 1000 / 60
    assert 10 <= admitted <= 10 + int(refilled // 100), (admitted, elapsed)
    assert all(d.reason == "tokens" and d.scope == "tenant:t"
               for d in decisions if not d.allowed)


async def test_buckets_expire_when_idle(make: LimiterFactory, prefix: str) -> None:
    limiter = make()
    scope = [ScopeLimits("key:k", requests_per_minute=60_000, concurrent=1)]
    await limiter.acquire(scope, 0, "a")
    client = Redis.from_url(REDIS_URL)
    try:
        ttl = await client.pttl(f"{prefix}key:k:req")
        assert 0 < ttl <= 1001  # one request refills in 1 ms, plus the margin
        await limiter.settle(scope, "a", reserved_tokens=0, used_tokens=0)
        assert not await client.exists(f"{prefix}key:k:conc")  # empty lease set deleted
    finally:
        await client.aclose()


async def test_create_limiter_picks_redis_for_a_url() -> None:
    limiter = create_limiter(REDIS_URL)
    assert isinstance(limiter, RedisLimiter)
    await limiter.close()


async def test_connection_errors_raise() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(RedisConnectionError):
        await limiter.acquire([ScopeLimits("key:k", requests_per_minute=1)], 0, "a")
    await limiter.close()
