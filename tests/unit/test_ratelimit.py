"""The in-process rate limiter on a fake clock: buckets, reservations, leases, headers."""

from __future__ import annotations

import pytest

from maas.limits.ratelimit import (
    Decision,
    MemoryLimiter,
    ScopeLimits,
    create_limiter,
    reset_duration,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limiter(clock: FakeClock) -> MemoryLimiter:
    return MemoryLimiter(clock=clock, lease_ttl=900.0)


async def take(limiter: MemoryLimiter, scopes: list[ScopeLimits], n: int,
               tokens: int = 0) -> list[Decision]:
    return [await limiter.acquire(scopes, tokens, f"lease-{i}") for i in range(n)]


async def test_rpm_burst_then_deny_with_retry_after(limiter: MemoryLimiter,
                                                    clock: FakeClock) -> None:
    scope = [ScopeLimits("key:k", requests_per_minute=6)]  # refills 1 every 10 s
    assert all(d.allowed for d in await take(limiter, scope, 6))
    denied = await limiter.acquire(scope, 0, "late")
    assert not denied.allowed
    assert (denied.reason, denied.scope, denied.too_large) == ("requests", "key:k", False)
    assert denied.retry_after == pytest.approx(10.0)
    clock.advance(4)
    assert (await limiter.acquire(scope, 0, "late")).retry_after == pytest.approx(6.0)


async def test_rpm_refills_smoothly(limiter: MemoryLimiter, clock: FakeClock) -> None:
    scope = [ScopeLimits("key:k", requests_per_minute=6)]
    await take(limiter, scope, 6)
    clock.advance(10)
    assert (await limiter.acquire(scope, 0, "a")).allowed
    assert not (await limiter.acquire(scope, 0, "b")).allowed
    clock.advance(3600)  # refills to capacity, never beyond it
    assert sum(limiter.acquire_sync(scope, 0, f"c{i}").allowed for i in range(10)) == 6


async def test_tpm_reservation_refund_and_debt(limiter: MemoryLimiter, clock: FakeClock) -> None:
    scope = [ScopeLimits("key:k", tokens_per_minute=600)]  # 10 tokens/s
    assert (await limiter.acquire(scope, 500, "a")).allowed
    denied = await limiter.acquire(scope, 200, "b")
    assert (denied.allowed, denied.reason) == (False, "tokens")
    assert denied.retry_after == pytest.approx(10.0)  # needs 100 more at 10/s

    await limiter.settle(scope, "a", reserved_tokens=500, used_tokens=100)  # refund 400
    assert (await limiter.acquire(scope, 500, "b")).allowed  # 500 available exactly
    await limiter.settle(scope, "b", reserved_tokens=500, used_tokens=800)  # 300 of debt
    denied = await limiter.acquire(scope, 0, "c")
    assert (denied.allowed, denied.reason) == (False, "tokens")
    assert denied.retry_after == pytest.approx(30.0)
    assert denied.headers["x-ratelimit-remaining-tokens"] == "0"
    clock.advance(30)
    assert (await limiter.acquire(scope, 0, "c")).allowed


async def test_debt_is_capped_at_one_bucket(limiter: MemoryLimiter) -> None:
    scope = [ScopeLimits("key:k", tokens_per_minute=600)]
    await limiter.acquire(scope, 100, "a")
    await limiter.settle(scope, "a", reserved_tokens=100, used_tokens=1_000_000)
    denied = await limiter.acquire(scope, 1, "b")
    assert denied.retry_after == pytest.approx((600 + 1) / 10)  # from -600, not -999_500


async def test_refund_never_overfills(limiter: MemoryLimiter) -> None:
    scope = [ScopeLimits("key:k", tokens_per_minute=600)]
    await limiter.acquire(scope, 100, "a")
    await limiter.settle(scope, "a", reserved_tokens=100_000, used_tokens=0)
    decision = await limiter.acquire(scope, 600, "b")
    assert decision.allowed
    assert decision.headers["x-ratelimit-remaining-tokens"] == "0"


async def test_too_large_is_never_admissible(limiter: MemoryLimiter) -> None:
    scopes = [ScopeLimits("key:k", requests_per_minute=1),
              ScopeLimits("tenant:t", tokens_per_minute=1000)]
    await limiter.acquire(scopes, 0, "drain")  # the key is now merely rate-limited
    denied = await limiter.acquire(scopes, 1001, "big")
    assert (denied.allowed, denied.reason, denied.scope) == (False, "tokens", "tenant:t")
    assert denied.too_large and denied.retry_after == 0.0


async def test_concurrency_limit_and_release(limiter: MemoryLimiter) -> None:
    scope = [ScopeLimits("key:k", concurrent=2)]
    assert (await limiter.acquire(scope, 0, "a")).allowed
    assert (await limiter.acquire(scope, 0, "b")).allowed
    denied = await limiter.acquire(scope, 0, "c")
    assert (denied.allowed, denied.reason, denied.retry_after) == (False, "concurrent", 1.0)
    assert denied.headers == {}  # no per-minute dimension is limited
    await limiter.settle(scope, "a", reserved_tokens=0, used_tokens=0)
    assert (await limiter.acquire(scope, 0, "c")).allowed


async def test_reacquiring_the_same_lease_does_not_count_twice(limiter: MemoryLimiter) -> None:
    scope = [ScopeLimits("key:k", concurrent=1)]
    assert (await limiter.acquire(scope, 0, "a")).allowed
    assert (await limiter.acquire(scope, 0, "a")).allowed
    assert not (await limiter.acquire(scope, 0, "b")).allowed


async def test_leases_expire(clock: FakeClock) -> None:
    limiter = MemoryLimiter(clock=clock, lease_ttl=30.0)
    scope = [ScopeLimits("key:k", concurrent=1)]
    assert (await limiter.acquire(scope, 0, "crashed")).allowed
    clock.advance(29)
    assert not (await limiter.acquire(scope, 0, "b")).allowed
    clock.advance(1)
    assert (await limiter.acquire(scope, 0, "b")).allowed


async def test_settling_unknown_or_expired_leases_is_harmless(limiter: MemoryLimiter,
                                                             clock: FakeClock) -> None:
    scope = [ScopeLimits("key:k", requests_per_minute=10, tokens_per_minute=100, concurrent=1)]
    await limiter.settle(scope, "never-acquired", reserved_tokens=0, used_tokens=0)
    await limiter.acquire(scope, 10, "a")
    clock.advance(10_000)
    await limiter.settle(scope, "a", reserved_tokens=10, used_tokens=10)
    await limiter.settle(scope, "a", reserved_tokens=10, used_tokens=10)
    assert (await limiter.acquire(scope, 10, "b")).allowed


async def test_denial_by_one_scope_takes_nothing_from_the_others(limiter: MemoryLimiter) -> None:
    tenant = ScopeLimits("tenant:t", requests_per_minute=100, tokens_per_minute=10_000,
                         concurrent=10)
    key = ScopeLimits("key:k", requests_per_minute=2, concurrent=5)
    assert (await limiter.acquire([tenant, key], 100, "a")).allowed
    assert (await limiter.acquire([tenant, key], 100, "b")).allowed
    for i in range(5):
        denied = await limiter.acquire([tenant, key], 100, f"x{i}")
        assert (denied.allowed, denied.reason, denied.scope) == (False, "requests", "key:k")
    # Only the two admitted requests were charged to the tenant.
    alone = await limiter.acquire([tenant], 0, "c")
    assert alone.headers["x-ratelimit-remaining-requests"] == "97"
    assert alone.headers["x-ratelimit-remaining-tokens"] == "9800"


async def test_denial_by_concurrency_takes_no_budget(limiter: MemoryLimiter) -> None:
    scope = [ScopeLimits("key:k", requests_per_minute=10, tokens_per_minute=1000, concurrent=1)]
    await limiter.acquire(scope, 100, "a")
    assert (await limiter.acquire(scope, 100, "b")).reason == "concurrent"
    await limiter.settle(scope, "a", reserved_tokens=100, used_tokens=100)
    decision = await limiter.acquire(scope, 100, "c")
    assert decision.headers["x-ratelimit-remaining-requests"] == "8"
    assert decision.headers["x-ratelimit-remaining-tokens"] == "800"


async def test_headers_describe_the_most_constrained_scope(limiter: MemoryLimiter,
                                                          clock: FakeClock) -> None:
    tenant = ScopeLimits("tenant:t", requests_per_minute=600, tokens_per_minute=1000)
    key = ScopeLimits("key:k", requests_per_minute=60)
    decision = await limiter.acquire([tenant, key], 100, "a")
    assert decision.headers == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "6s",
    }
    denied = await limiter.acquire([tenant, key], 950, "b")
    assert (denied.allowed, denied.reason) == (False, "tokens")
    assert denied.headers["x-ratelimit-remaining-tokens"] == "900"  # nothing was taken
    assert denied.headers["x-ratelimit-remaining-requests"] == "59"
    clock.advance(0.5)
    assert limiter.acquire_sync([key], 0, "c").headers["x-ratelimit-reset-requests"] == "1.5s"


async def test_no_scopes_or_no_limits_always_allow(limiter: MemoryLimiter) -> None:
    assert await limiter.acquire([], 10**9, "a") == Decision(allowed=True)
    unlimited = await limiter.acquire([ScopeLimits("key:k")], 10**9, "b")
    assert unlimited.allowed and unlimited.headers == {}


async def test_idle_scopes_are_forgotten(limiter: MemoryLimiter, clock: FakeClock) -> None:
    for i in range(100):
        await limiter.acquire([ScopeLimits(f"key:{i}", requests_per_minute=10, concurrent=1)],
                              0, "a")
    clock.advance(1000)  # every bucket full again, every lease expired
    await limiter.acquire([ScopeLimits("key:new", requests_per_minute=10)], 0, "b")
    assert len(limiter._buckets) == 1 and not limiter._leases


def test_negative_tokens_are_rejected(limiter: MemoryLimiter) -> None:
    with pytest.raises(ValueError):
        limiter.acquire_sync([ScopeLimits("key:k")], -1, "a")


def test_create_limiter_defaults_to_memory() -> None:
    assert isinstance(create_limiter(None), MemoryLimiter)
    assert isinstance(create_limiter(""), MemoryLimiter)


@pytest.mark.parametrize(("seconds", "expected"), [
    (0, "0s"), (-3, "0s"), (0.02, "20ms"), (0.0201, "21ms"), (0.9999, "1s"), (1, "1s"),
    (1.5, "1.5s"), (59.25, "59.25s"), (60, "1m0s"), (90, "1m30s"), (360, "6m0s"),
    (3600, "1h0m0s"), (3725.5, "1h2m5.5s"),
])
def test_reset_duration(seconds: float, expected: str) -> None:
    assert reset_duration(seconds) == expected
