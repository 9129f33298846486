"""Per-scope rate limits: requests/minute, tokens/minute and concurrent requests.

A request is admitted against several scopes at once (its tenant and its key, say), and
it must be admitted by all of them or charged to none: a key that is over its own limit
must not eat its tenant's budget with requests that never run. So `acquire` is a single
atomic check-and-take over every scope and every dimension, and `settle` is its one
counterpart, run when the request has finished however it finished.

The per-minute limits are token buckets (capacity = the limit, refilled at limit/60 per
second): a client may burst its whole minute, then is paced smoothly, and there is no
window edge at which a double burst slips through as with fixed windows. Tokens are
reserved up front (the prompt plus the requested completion budget) because the true
count is only known at the end; `settle` refunds the unused part or, when more was used
than reserved, takes the extra as a debt that delays later requests.

Concurrency slots are leases that expire after `lease_ttl`, so a gateway that crashes
between `acquire` and `settle` cannot hold a slot forever.

Two backends share the interface: `MemoryLimiter` for one gateway process, and
`RedisLimiter` when several replicas must share one budget. The Redis backend runs each
operation as one Lua script over all the scopes' keys and reads the Redis server's clock,
so replicas with skewed clocks still agree. All keys of one call must live on one Redis
node (a single server or a Sentinel pair, not a sharded Cluster).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

WINDOW = 60.0
"""Seconds in which a per-minute bucket refills from empty to full."""
CONCURRENCY_RETRY_AFTER = 1.0
"""A hint only: when a slot frees depends on other requests finishing, not on a clock."""
BLOCKED_RETRY_AFTER = 60.0
"""A hint for a limit of 0, which no amount of waiting satisfies."""
SWEEP_INTERVAL = 60.0
"""How often (in clock seconds) the memory backend forgets scopes that have gone idle."""
_EPS = 1e-9
"""Absorbs float error in refills, so a bucket that is full to the eye counts as full."""


@dataclass(frozen=True)
class ScopeLimits:
    scope: str  # "tenant:<id>" / "key:<id>"
    requests_per_minute: int | None = None  # None = unlimited
    tokens_per_minute: int | None = None
    concurrent: int | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None  # "requests" | "tokens" | "concurrent" when denied
    scope: str | None = None  # the scope that denied
    retry_after: float = 0.0  # seconds until the denied request could pass (0 if allowed)
    too_large: bool = False  # tokens asked > tokens_per_minute: can never pass; don't retry
    headers: dict[str, str] = field(default_factory=dict)  # OpenAI-style x-ratelimit-*


class Limiter(Protocol):
    async def acquire(self, scopes: Sequence[ScopeLimits], tokens: int, lease: str) -> Decision:
        """Take 1 request, `tokens` tokens and the slot `lease` from every scope, or nothing."""
        ...

    async def settle(self, scopes: Sequence[ScopeLimits], lease: str, reserved_tokens: int,
                     used_tokens: int) -> None:
        """Release `lease` and correct the token buckets by `reserved_tokens - used_tokens`."""
        ...

    async def close(self) -> None: ...


def create_limiter(redis_url: str | None, lease_ttl: float = 900.0) -> Limiter:
    """Redis when replicas must share budgets (a URL is configured), else in-process."""
    if redis_url:
        return RedisLimiter(redis_url, lease_ttl=lease_ttl)
    return MemoryLimiter(lease_ttl=lease_ttl)


def reset_duration(seconds: float) -> str:
    """Format like OpenAI's x-ratelimit-reset-* headers: "20ms", "1s", "1.5s", "6m0s".

    Rounded up to the millisecond: a client that waits the advertised time must find the
    bucket refilled, not a hair short of it.
    """
    if not math.isfinite(seconds) or seconds <= 0:
        return "0s"
    millis = math.ceil(round(seconds * 1000, 6))  # round first: 0.02 * 1000 = 20.000...04
    if millis < 1000:
        return f"{millis}ms"
    minutes, millis = divmod(millis, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = str(millis // 1000) if millis % 1000 == 0 else f"{millis / 1000:.3f}".rstrip("0")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


# --- shared pieces --------------------------------------------------------------------


def _unique(scopes: Sequence[ScopeLimits]) -> list[ScopeLimits]:
    """Drop repeated scopes (first wins): charging one bucket twice per request is a bug."""
    seen: set[str] = set()
    out = []
    for s in scopes:
        if s.scope not in seen:
            seen.add(s.scope)
            out.append(s)
    return out


def _check_tokens(tokens: int) -> None:
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, not {tokens}")


def _refill(level: float, stamp: float, now: float, capacity: int) -> float:
    if capacity <= 0:
        return 0.0
    return min(float(capacity), level + max(0.0, now - stamp) * capacity / WINDOW)


def _wait(need: float, level: float, capacity: int) -> float:
    """Seconds until a bucket now at `level` holds `need`."""
    if capacity <= 0:
        return BLOCKED_RETRY_AFTER
    return max(0.0, (need - level) * WINDOW / capacity)


def _first_denial(scopes: Sequence[ScopeLimits], tokens: int,
                  requests: Sequence[float | None], token_levels: Sequence[float | None],
                  held: Sequence[int | None]) -> tuple[int, str, float, bool] | None:
    """(scope index, reason, retry_after, too_large) of the first failed check, or None.

    A request larger than some scope's whole bucket is reported before anything else,
    even if an earlier scope is merely busy: "never" is the answer the client needs.
    The Lua scripts below check in the same order.
    """
    for i, s in enumerate(scopes):
        if s.tokens_per_minute is not None and tokens > s.tokens_per_minute:
            return i, "tokens", 0.0, True
    for i, s in enumerate(scopes):
        req, tok, busy = requests[i], token_levels[i], held[i]
        if s.requests_per_minute is not None and req is not None and req + _EPS < 1:
            return i, "requests", _wait(1, req, s.requests_per_minute), False
        if s.tokens_per_minute is not None and tok is not None and tok + _EPS < tokens:
            return i, "tokens", _wait(tokens, tok, s.tokens_per_minute), False
        if s.concurrent is not None and busy is not None and busy >= s.concurrent:
            return i, "concurrent", CONCURRENCY_RETRY_AFTER, False
    return None


def _headers(scopes: Sequence[ScopeLimits], requests: Sequence[float | None],
             token_levels: Sequence[float | None]) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers, each dimension from its most constrained scope.

    Clients (the OpenAI SDKs, LangChain) pace themselves on these, so they must describe
    the scope that will deny first: the one with the least remaining.
    """
    headers: dict[str, str] = {}
    for dim, levels, attr in (("requests", requests, "requests_per_minute"),
                              ("tokens", token_levels, "tokens_per_minute")):
        best: tuple[tuple[int, float], int] | None = None
        for s, level in zip(scopes, levels, strict=True):
            capacity = getattr(s, attr)
            if capacity is None or level is None:
                continue
            remaining = max(0, math.floor(level + _EPS))
            reset = _wait(capacity, level, capacity) if capacity > 0 else 0.0
            rank = (remaining, -reset)
            if best is None or rank < best[0]:
                best = (rank, capacity)
        if best is not None:
            (remaining, neg_reset), capacity = best
            headers[f"x-ratelimit-limit-{dim}"] = str(capacity)
            headers[f"x-ratelimit-remaining-{dim}"] = str(remaining)
            headers[f"x-ratelimit-reset-{dim}"] = reset_duration(-neg_reset)
    return headers


def _decision(scopes: Sequence[ScopeLimits], denial: tuple[int, str, float, bool] | None,
              requests: Sequence[float | None],
              token_levels: Sequence[float | None]) -> Decision:
    headers = _headers(scopes, requests, token_levels)
    if denial is None:
        return Decision(allowed=True, headers=headers)
    index, reason, retry_after, too_large = denial
    return Decision(allowed=False, reason=reason, scope=scopes[index].scope,
                    retry_after=retry_after, too_large=too_large, headers=headers)


# --- in-process backend ---------------------------------------------------------------


@dataclass
class _Bucket:
    level: float
    stamp: float
    capacity: int  # as of the last write; only used to tell when the bucket is full again


class MemoryLimiter:
    """Budgets for a single gateway process.

    Guarded by a `threading.Lock`, not an asyncio one, because sync code (threads of the
    admin API, tests) uses it too; no call awaits while holding it, so it never blocks the
    event loop for longer than the arithmetic. The clock is injectable for tests.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 lease_ttl: float = 900.0) -> None:
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._leases: dict[str, dict[str, float]] = {}  # scope -> lease -> expiry
        self._next_sweep: float | None = None

    async def acquire(self, scopes: Sequence[ScopeLimits], tokens: int, lease: str) -> Decision:
        return self.acquire_sync(scopes, tokens, lease)

    async def settle(self, scopes: Sequence[ScopeLimits], lease: str, reserved_tokens: int,
                     used_tokens: int) -> None:
        self.settle_sync(scopes, lease, reserved_tokens, used_tokens)

    async def close(self) -> None:
        return None

    def acquire_sync(self, scopes: Sequence[ScopeLimits], tokens: int, lease: str) -> Decision:
        _check_tokens(tokens)
        scopes = _unique(scopes)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            requests = [self._level(s.scope, "requests", s.requests_per_minute, now)
                        for s in scopes]
            token_levels = [self._level(s.scope, "tokens", s.tokens_per_minute, now)
                            for s in scopes]
            held = [self._held(s.scope, lease, now) if s.concurrent is not None else None
                    for s in scopes]
            denial = _first_denial(scopes, tokens, requests, token_levels, held)
            if denial is None:
                for i, s in enumerate(scopes):
                    if s.requests_per_minute is not None and requests[i] is not None:
                        requests[i] -= 1
                        self._store(s.scope, "requests", requests[i], s.requests_per_minute, now)
                    if s.tokens_per_minute is not None and token_levels[i] is not None:
                        token_levels[i] -= tokens
                        self._store(s.scope, "tokens", token_levels[i], s.tokens_per_minute,
                                    now)
                    if s.concurrent is not None:
                        self._leases.setdefault(s.scope, {})[lease] = now + self._lease_ttl
            return _decision(scopes, denial, requests, token_levels)

    def settle_sync(self, scopes: Sequence[ScopeLimits], lease: str, reserved_tokens: int,
                    used_tokens: int) -> None:
        delta = reserved_tokens - used_tokens
        with self._lock:
            now = self._clock()
            for s in _unique(scopes):
                # Released whatever the current limit: it may have been removed meanwhile.
                leases = self._leases.get(s.scope)
                if leases is not None:
                    leases.pop(lease, None)
                    if not leases:
                        del self._leases[s.scope]
                capacity = s.tokens_per_minute
                if capacity is not None and delta:
                    level = self._level(s.scope, "tokens", capacity, now)
                    assert level is not None
                    level = max(-float(capacity), min(float(capacity), level + delta))
                    self._store(s.scope, "tokens", level, capacity, now)

    def _level(self, scope: str, dim: str, capacity: int | None, now: float) -> float | None:
        if capacity is None:
            return None
        bucket = self._buckets.get((scope, dim))
        if bucket is None:
            return float(max(capacity, 0))
        return _refill(bucket.level, bucket.stamp, now, capacity)

    def _store(self, scope: str, dim: str, level: float, capacity: int, now: float) -> None:
        self._buckets[(scope, dim)] = _Bucket(level, now, capacity)

    def _held(self, scope: str, lease: str, now: float) -> int:
        """Live leases of `scope`, not counting `lease` itself (a retried acquire)."""
        leases = self._leases.get(scope)
        if not leases:
            return 0
        for name in [name for name, expiry in leases.items() if expiry <= now]:
            del leases[name]
        return len(leases) - (lease in leases)

    def _sweep(self, now: float) -> None:
        """Forget full buckets and empty lease sets, so one-off keys don't pile up.

        A missing bucket reads as full, so dropping a full one changes nothing.
        """
        if self._next_sweep is None:
            self._next_sweep = now + SWEEP_INTERVAL
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        for key, b in list(self._buckets.items()):
            if _refill(b.level, b.stamp, now, b.capacity) + _EPS >= b.capacity:
                del self._buckets[key]
        for scope, leases in list(self._leases.items()):
            for name in [name for name, expiry in leases.items() if expiry <= now]:
                del leases[name]
            if not leases:
                del self._leases[scope]


# --- Redis backend --------------------------------------------------------------------

# KEYS, per scope i: [3i-2] requests bucket (hash), [3i-1] tokens bucket (hash),
# [3i] concurrency leases (sorted set scored by expiry). A missing bucket is a full one,
# so each bucket key expires when it would have refilled and idle scopes cost nothing.
_LUA_PRELUDE = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS / 3

local function level_of(key, cap)
  if cap <= 0 then return 0 end
  local v = redis.call('HMGET', key, 'tokens', 'ts')
  local level, ts = tonumber(v[1]), tonumber(v[2])
  if not level or not ts then return cap end
  return math.min(cap, level + math.max(0, now - ts) * cap / 60)
end

local function store(key, level, cap)
  if cap <= 0 then return end
  redis.call('HSET', key, 'tokens', level, 'ts', now)
  redis.call('PEXPIRE', key, math.ceil((cap - level) * 60000 / cap) + 1000)
end

local function limits(i, base)
  local b = base + 3 * (i - 1)
  return tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
end
"""

# ARGV: tokens, lease, lease_ttl, then per scope rpm, tpm, concurrent (-1 = unlimited).
# Reply: allowed, reason, scope index (1-based), retry_after, too_large, then per scope
# the requests and tokens levels after the call ('' where unlimited).
_ACQUIRE_LUA = _LUA_PRELUDE + """
local EPS = 1e-9
local want = tonumber(ARGV[1])
local lease = ARGV[2]
local ttl = tonumber(ARGV[3])
local rpm, tpm, conc, req, tok, held = {}, {}, {}, {}, {}, {}

for i = 1, n do
  rpm[i], tpm[i], conc[i] = limits(i, 3)
  if rpm[i] >= 0 then req[i] = level_of(KEYS[3 * i - 2], rpm[i]) end
  if tpm[i] >= 0 then tok[i] = level_of(KEYS[3 * i - 1], tpm[i]) end
  if conc[i] >= 0 then
    local key = KEYS[3 * i]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    held[i] = redis.call('ZCARD', key)
    if redis.call('ZSCORE', key, lease) then held[i] = held[i] - 1 end
  end
end

local function wait(need, level, cap)
  if cap <= 0 then return 60 end
  return math.max(0, (need - level) * 60 / cap)
end

local function reply(allowed, reason, index, retry, too_large)
  local out = {allowed, reason, index, tostring(retry), too_large}
  for i = 1, n do
    out[#out + 1] = req[i] and tostring(req[i]) or ''
    out[#out + 1] = tok[i] and tostring(tok[i]) or ''
  end
  return out
end

for i = 1, n do
  if tpm[i] >= 0 and want > tpm[i] then return reply(0, 'tokens', i, 0, 1) end
end
for i = 1, n do
  if rpm[i] >= 0 and req[i] + EPS < 1 then
    return reply(0, 'requests', i, wait(1, req[i], rpm[i]), 0)
  end
  if tpm[i] >= 0 and tok[i] + EPS < want then
    return reply(0, 'tokens', i, wait(want, tok[i], tpm[i]), 0)
  end
  if conc[i] >= 0 and held[i] >= conc[i] then return reply(0, 'concurrent', i, 1, 0) end
end

for i = 1, n do
  if rpm[i] >= 0 then
    req[i] = req[i] - 1
    store(KEYS[3 * i - 2], req[i], rpm[i])
  end
  if tpm[i] >= 0 then
    tok[i] = tok[i] - want
    store(KEYS[3 * i - 1], tok[i], tpm[i])
  end
  if conc[i] >= 0 then
    local key = KEYS[3 * i]
    redis.call('ZADD', key, now + ttl, lease)
    local ms = math.ceil(ttl * 1000) + 1000
    if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
  end
end
return reply(1, '', 0, 0, 0)
"""

# ARGV: tokens delta (reserved - used), lease, then per scope rpm, tpm, concurrent.
_SETTLE_LUA = _LUA_PRELUDE + """
local delta = tonumber(ARGV[1])
local lease = ARGV[2]
for i = 1, n do
  local _, tpm = limits(i, 2)
  if tpm >= 0 and delta ~= 0 then
    local level = level_of(KEYS[3 * i - 1], tpm) + delta
    store(KEYS[3 * i - 1], math.max(-tpm, math.min(tpm, level)), tpm)
  end
  local key = KEYS[3 * i]
  redis.call('ZREM', key, lease)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) == 0 then redis.call('DEL', key) end
end
return 1
"""


class RedisLimiter:
    """Budgets shared by every gateway replica that points at the same Redis.

    Each operation is one EVALSHA of a script over all the scopes' keys, so the check
    and the take cannot interleave with another replica's. Redis errors propagate: the
    caller chooses between failing open and failing closed, this class does not guess.
    """

    def __init__(self, url: str, prefix: str = "maas:rl:", lease_ttl: float = 900.0) -> None:
        from redis.asyncio import Redis  # a core dependency, imported where it is needed

        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._lease_ttl = lease_ttl
        self._acquire_script = self._redis.register_script(_ACQUIRE_LUA)
        self._settle_script = self._redis.register_script(_SETTLE_LUA)

    async def acquire(self, scopes: Sequence[ScopeLimits], tokens: int, lease: str) -> Decision:
        _check_tokens(tokens)
        scopes = _unique(scopes)
        if not scopes:
            return Decision(allowed=True)
        reply = await self._acquire_script(
            keys=self._keys(scopes),
            args=[tokens, lease, self._lease_ttl, *self._limit_args(scopes)])
        allowed, reason, index, retry_after, too_large, *levels = reply
        requests = [_float_or_none(v) for v in levels[0::2]]
        token_levels = [_float_or_none(v) for v in levels[1::2]]
        denial = None
        if not int(allowed):
            denial = (int(index) - 1, str(reason), float(retry_after), bool(int(too_large)))
        return _decision(scopes, denial, requests, token_levels)

    async def settle(self, scopes: Sequence[ScopeLimits], lease: str, reserved_tokens: int,
                     used_tokens: int) -> None:
        scopes = _unique(scopes)
        if not scopes:
            return
        await self._settle_script(
            keys=self._keys(scopes),
            args=[reserved_tokens - used_tokens, lease, *self._limit_args(scopes)])

    async def close(self) -> None:
        await self._redis.aclose()

    def _keys(self, scopes: Sequence[ScopeLimits]) -> list[str]:
        keys = []
        for s in scopes:
            base = f"{self._prefix}{s.scope}"
            keys += [f"{base}:req", f"{base}:tok", f"{base}:conc"]
        return keys

    @staticmethod
    def _limit_args(scopes: Sequence[ScopeLimits]) -> list[int]:
        return [-1 if v is None else max(0, v)
                for s in scopes
                for v in (s.requests_per_minute, s.tokens_per_minute, s.concurrent)]


def _float_or_none(value: Any) -> float | None:
    return None if value in ("", None) else float(value)
