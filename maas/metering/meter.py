"""The per-request meter: admit (rate limits, quotas, credit hold) then settle (usage).

`admit` runs before the engine is called and raises a clear, typed error when a limit,
quota or the credit balance says no. `settle` runs exactly once afterwards, whether the
request succeeded, failed or the client went away, and is shielded from cancellation so
a disconnect can never skip it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import anyio

from maas.catalog.models import ModelManifest
from maas.db.database import Database
from maas.errors import MaasError, RateLimited, ServiceUnavailable
from maas.limits.ratelimit import Limiter, ScopeLimits
from maas.metering import credits
from maas.metering.batching import GroupCommit
from maas.metering.credits import LotConflict
from maas.metering.pricing import Price, prompt_token_bounds
from maas.metering.reservations import (
    Outcome,
    QuotaScope,
    Reservation,
    ReserveRequest,
    release,
    reserve_many,
)
from maas.metering.settlement import SettlementWriter
from maas.tenancy.principal import Principal

log = logging.getLogger(__name__)

RESERVE_ATTEMPTS = 5


@dataclass
class Admission:
    """One admitted request: what was taken from the limiter and reserved in the DB."""

    who: Principal
    endpoint: str
    scopes: list[ScopeLimits]
    lease: str
    limiter_tokens: int
    reservation: Reservation
    prompt_estimate: int
    app_id: str | None = None  # the app this request ran for (usage is charged to it)
    headers: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    settled: bool = False

    @property
    def max_completion(self) -> int | None:
        return self.reservation.max_completion


def rate_scopes(who: Principal) -> list[ScopeLimits]:
    scopes = []
    for scope, limits in ((f"tenant:{who.tenant_id}", who.plan_limits),
                          (f"key:{who.key_id}" if who.key_id else None, who.key_limits)):
        if scope and (limits.requests_per_minute or limits.tokens_per_minute
                      or limits.concurrent):
            scopes.append(ScopeLimits(scope, limits.requests_per_minute,
                                      limits.tokens_per_minute, limits.concurrent))
    return scopes


def quota_scopes(who: Principal) -> list[QuotaScope]:
    quotas = []
    if who.plan_limits.monthly_tokens:
        quotas.append(QuotaScope(f"tenant:{who.tenant_id}", who.plan_limits.monthly_tokens))
    if who.key_id and who.key_limits.monthly_tokens:
        quotas.append(QuotaScope(f"key:{who.key_id}", who.key_limits.monthly_tokens))
    return quotas


def wanted_completion(endpoint: str, body: dict[str, Any], manifest: ModelManifest) -> int:
    if endpoint == "embeddings":
        return 0
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    wanted = int(asked) if asked else manifest.defaults.max_tokens
    n = int(body.get("n") or 1)
    return wanted * max(1, n)


class Reserver(GroupCommit[ReserveRequest, None]):
    """Group commit for admissions: one transaction admits or refuses a whole batch."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    def process(self, batch: list[ReserveRequest]) -> list[None | BaseException]:
        for _ in range(RESERVE_ATTEMPTS):
            try:
                with self.db.session(write=True) as session:
                    results: list[MaasError | None] = reserve_many(session, batch)
                return list(results)
            except LotConflict:
                continue  # rolled back: read the counters and lots again
        error = ServiceUnavailable("Credits are changing too fast to reserve; retry shortly.")
        return [error] * len(batch)


class Meter:
    """Built once per gateway; `enabled=False` turns metering off (benchmarks only)."""

    def __init__(self, db: Database, limiter: Limiter, enabled: bool = True) -> None:
        self.db = db
        self.limiter = limiter
        self.enabled = enabled
        self.reserver = Reserver(db)
        self.writer = SettlementWriter(db)

    async def admit(self, who: Principal, manifest: ModelManifest, endpoint: str,
                    body: dict[str, Any], request_id: str | None,
                    app_id: str | None = None) -> Admission | None:
        if not self.enabled:
            return None
        likely, upper = prompt_token_bounds(endpoint, body)
        wanted = wanted_completion(endpoint, body, manifest)
        reservation = Reservation(
            tenant_id=who.tenant_id, model_id=manifest.id, industries=manifest.industries,
            price=Price.of(manifest.pricing), prepaid=who.billing == "prepaid",
            quotas=quota_scopes(who))
        scopes = rate_scopes(who)
        tokens = likely + wanted
        lease = reservation.usage_id
        decision = None
        if scopes:
            try:
                decision = await self.limiter.acquire(scopes, tokens, lease)
            except Exception as exc:  # fail closed: no shared budget, no admission
                log.error("rate limiter unavailable: %s", exc)
                raise ServiceUnavailable("The rate limiter is unavailable; try again shortly."
                                         ) from exc
            if not decision.allowed:
                raise self._denied(decision, tokens)
        try:
            if reservation.touches_db:
                await self.reserver.submit(ReserveRequest(reservation, likely, upper, wanted))
            else:
                reservation.max_completion = wanted
        except BaseException:
            if scopes:
                with anyio.CancelScope(shield=True):
                    await self.limiter.settle(scopes, lease, tokens, 0)
            raise
        return Admission(who=who, endpoint=endpoint, scopes=scopes, lease=lease,
                         limiter_tokens=tokens, reservation=reservation,
                         prompt_estimate=likely, app_id=app_id,
                         headers=decision.headers if decision else {})

    @staticmethod
    def _denied(decision: Any, tokens: int) -> RateLimited:
        if decision.too_large:
            return RateLimited(
                f"Request too large for {decision.scope}: it may use {tokens} tokens, more "
                "than the tokens-per-minute limit. Send a shorter prompt or a smaller "
                "max_tokens.", None, decision.headers, code="request_too_large")
        what = {"requests": "requests per minute", "tokens": "tokens per minute",
                "concurrent": "concurrent requests"}.get(decision.reason or "", "requests")
        return RateLimited(
            f"Rate limit reached for {decision.scope} on {what}. Please try again in "
            f"{decision.retry_after:.1f}s.", decision.retry_after, decision.headers)

    async def settle(self, adm: Admission | None, usage: dict[str, Any] | None, status: int,
                     outcome: str, streamed_tokens: int = 0,
                     request_id: str | None = None) -> None:
        """Record how the request ended; never raises (failures are logged)."""
        if adm is None or adm.settled:
            return
        adm.settled = True
        estimated = False
        if usage:
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
        elif outcome == "cancelled" or streamed_tokens:
            # The engine never reported usage: charge what the gateway saw go out.
            prompt, completion, estimated = adm.prompt_estimate, streamed_tokens, True
        else:
            prompt, completion = 0, 0  # the engine did not run the request
        o = Outcome(endpoint=adm.endpoint, prompt_tokens=prompt, completion_tokens=completion,
                    status=status, outcome=outcome, key_id=adm.who.key_id,
                    user_id=adm.who.user_id, app_id=adm.app_id, request_id=request_id,
                    estimated=estimated,
                    latency_ms=int((time.perf_counter() - adm.started) * 1000))
        with anyio.CancelScope(shield=True):
            try:
                await self.writer.submit((adm.reservation, o))
            except Exception:
                log.exception("could not record usage %s; its hold is released by the sweeper",
                              adm.reservation.usage_id)
            if adm.scopes:
                try:
                    await self.limiter.settle(adm.scopes, adm.lease, adm.limiter_tokens,
                                              prompt + completion)
                except Exception:
                    log.exception("could not settle the rate limiter for %s", adm.lease)

    async def cancel(self, adm: Admission | None) -> None:
        """Undo an admission whose request never started (e.g. routing failed)."""
        if adm is None or adm.settled:
            return
        adm.settled = True
        with anyio.CancelScope(shield=True):
            try:
                await asyncio.to_thread(self._release, adm.reservation)
            finally:
                if adm.scopes:
                    await self.limiter.settle(adm.scopes, adm.lease, adm.limiter_tokens, 0)

    def _release(self, r: Reservation) -> None:
        if r.touches_db:
            with self.db.session(write=True) as session:
                release(session, r)

    async def close(self) -> None:
        await self.reserver.close()
        await self.writer.close()
        await self.limiter.close()

    def sweep(self, stale_after: float) -> tuple[int, int]:
        """Housekeeping (run in a thread): release holds a crashed replica left behind
        (no usage was recorded for them), expire credit lots past their date."""
        with self.db.session() as session:
            stale = credits.stale_holds(session, timedelta(seconds=stale_after))
        for hold_id, tenant_id in stale:
            with self.db.session(write=True) as session:
                credits.settle_hold(session, tenant_id, hold_id, 0, None, "", [])
        with self.db.session(write=True) as session:
            expired = credits.expire_lots(session)
        return len(stale), expired
