"""The database half of metering: reserve before a request runs, settle after.

`reserve_many` checks the monthly token quotas and holds credits for a batch of requests
in one transaction; `settlement.settle_many` writes the usage records, the ledger debits
and the quota use in one transaction, so a usage record and its cost never disagree.

Both run a handful of statements per batch, not per request: reads first, then
conditional UPDATEs of the few rows that many requests share (a tenant's quota counter,
its credit lots), so those rows stay locked only for the last statements before commit.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from maas.db.tables import CreditHold, CreditLot, QuotaCounter, utcnow
from maas.errors import MaasError, QuotaExceeded
from maas.metering.credits import (
    LotConflict,
    allocate,
    insufficient,
    settle_hold,
    spend_order,
    usable,
)
from maas.metering.pricing import Price


def period_of(when: datetime) -> str:
    return when.strftime("%Y-%m")


@dataclass(frozen=True)
class QuotaScope:
    scope: str  # "tenant:<id>" / "key:<id>"
    monthly_tokens: int


@dataclass
class Reservation:
    """What was reserved for one request; `settle` needs it back."""

    tenant_id: str
    model_id: str
    industries: list[str]
    price: Price
    prepaid: bool
    quotas: list[QuotaScope] = field(default_factory=list)
    quota_tokens: int = 0
    period: str = ""
    hold_id: str | None = None
    hold_amount: int = 0
    max_completion: int | None = None  # the completion budget the credits afford
    usage_id: str = field(default_factory=lambda: "use_" + secrets.token_hex(10))

    @property
    def touches_db(self) -> bool:
        return bool(self.quotas) or (self.prepaid and not self.price.free)


@dataclass
class ReserveRequest:
    """One request to admit: its reservation and its token estimates."""

    reservation: Reservation
    prompt_likely: int
    prompt_upper: int
    wanted_completion: int


def _counters(session: Session, scopes: list[str], period: str) -> dict[str, list[int]]:
    """[used, held] per scope for this period, creating the month's rows on first use."""
    def read() -> dict[str, list[int]]:
        rows = session.execute(select(QuotaCounter.scope, QuotaCounter.used, QuotaCounter.held)
                               .where(col(QuotaCounter.period) == period,
                                      col(QuotaCounter.scope).in_(scopes)))
        return {row[0]: [int(row[1]), int(row[2])] for row in rows}

    counters = read()
    missing = [scope for scope in scopes if scope not in counters]
    for scope in missing:
        try:
            with session.begin_nested():
                session.execute(insert(QuotaCounter).values(scope=scope, period=period,
                                                            used=0, held=0))
        except IntegrityError:
            pass  # another gateway created it first
    return read() if missing else counters


def _quota_error(scope: QuotaScope, period: str, used: int, held: int, tokens: int
                 ) -> QuotaExceeded:
    left = max(0, scope.monthly_tokens - used - held)
    return QuotaExceeded(
        f"The monthly token quota of {scope.scope} is used up for {period} ({used} of "
        f"{scope.monthly_tokens} tokens used, {left} left; this request may need {tokens}). "
        "It resets at the start of next month.", code="quota_exceeded")


def reserve_many(session: Session, requests: list[ReserveRequest]
                 ) -> list[MaasError | None]:
    """Admit a batch against quotas and credits: None per admitted request, else its error.

    Decisions are made in memory, request by request, from one read of the counters and
    lots; then the sums are applied with conditional UPDATEs (quota counters by scope,
    then lots by id, the lock order used everywhere). If another process changed a row
    in between so that a sum no longer fits, `LotConflict` is raised: the caller rolls
    back and runs the batch again.
    """
    now = utcnow()
    period = period_of(now)
    results: list[MaasError | None] = [None] * len(requests)
    scopes = sorted({q.scope for rq in requests for q in rq.reservation.quotas})
    counters = _counters(session, scopes, period) if scopes else {}
    paying = sorted({rq.reservation.tenant_id for rq in requests
                     if rq.reservation.prepaid and not rq.reservation.price.free})
    lots_of: dict[str, list[CreditLot]] = defaultdict(list)
    if paying:
        for lot in session.exec(select(CreditLot).where(
                col(CreditLot.tenant_id).in_(paying), col(CreditLot.remaining) > 0)
                .execution_options(populate_existing=True)):
            lots_of[lot.tenant_id].append(lot)
    remaining = {lot.id: lot.remaining for lots in lots_of.values() for lot in lots}
    added: dict[str, int] = defaultdict(int)
    limit: dict[str, int] = {}
    takes: dict[str, int] = defaultdict(int)
    holds: list[dict[str, Any]] = []
    for i, rq in enumerate(requests):
        r = rq.reservation
        r.period, r.hold_id, r.hold_amount = period, None, 0
        r.max_completion = rq.wanted_completion
        r.quota_tokens = rq.prompt_likely + rq.wanted_completion
        allocations: dict[str, int] = {}
        if r.prepaid and not r.price.free:
            lots = sorted((lot for lot in lots_of.get(r.tenant_id, [])
                           if remaining[lot.id] > 0
                           and usable(lot, r.model_id, r.industries, now)), key=spend_order)
            available = sum(remaining[lot.id] for lot in lots)
            budget = r.price.affordable_completion(rq.prompt_upper, available,
                                                   rq.wanted_completion)
            if budget < 0 or (budget == 0 and rq.wanted_completion > 0):
                results[i] = insufficient(r.tenant_id, available,
                                          r.price.cost(rq.prompt_upper, 1))
                continue
            r.max_completion = budget
            r.hold_amount = r.price.cost(rq.prompt_upper, budget)
            r.quota_tokens = rq.prompt_likely + budget
            allocations = allocate(lots, r.hold_amount, remaining)
        over = next((q for q in r.quotas if sum(counters[q.scope]) + added[q.scope]
                     + r.quota_tokens > q.monthly_tokens), None)
        if over is not None:
            used, held = counters[over.scope]
            results[i] = _quota_error(over, period, used, held + added[over.scope],
                                      r.quota_tokens)
            continue
        for q in r.quotas:
            added[q.scope] += r.quota_tokens
            limit[q.scope] = min(limit.get(q.scope, q.monthly_tokens), q.monthly_tokens)
        for lot_id, take in allocations.items():
            remaining[lot_id] -= take
            takes[lot_id] += take
        if allocations:
            r.hold_id = "hold_" + r.usage_id
            holds.append({"id": r.hold_id, "tenant_id": r.tenant_id,
                          "amount": r.hold_amount, "allocations": allocations,
                          "created_at": now})
    if holds:  # private rows first: they lock nothing shared
        session.execute(insert(CreditHold), holds)
    for scope in sorted(limit):  # the scopes of admitted requests
        result = session.execute(update(QuotaCounter).where(
            col(QuotaCounter.scope) == scope, col(QuotaCounter.period) == period,
            col(QuotaCounter.used) + col(QuotaCounter.held) + added[scope] <= limit[scope],
        ).values(held=QuotaCounter.held + added[scope]))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LotConflict(scope)
    for lot_id in sorted(takes):
        result = session.execute(update(CreditLot).where(
            col(CreditLot.id) == lot_id, col(CreditLot.remaining) >= takes[lot_id],
        ).values(remaining=CreditLot.remaining - takes[lot_id],
                 held=CreditLot.held + takes[lot_id]))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LotConflict(lot_id)
    return results


@dataclass(frozen=True)
class Outcome:
    """How a request ended, as the gateway saw it."""

    endpoint: str
    prompt_tokens: int
    completion_tokens: int
    status: int
    outcome: str  # ok | error | cancelled
    latency_ms: int
    key_id: str | None = None
    user_id: str | None = None
    app_id: str | None = None
    request_id: str | None = None
    estimated: bool = False


def _release_quota(session: Session, r: Reservation, used: int) -> None:
    for quota in sorted(r.quotas, key=lambda q: q.scope):
        session.execute(update(QuotaCounter).where(
            col(QuotaCounter.scope) == quota.scope, col(QuotaCounter.period) == r.period,
        ).values(held=case((col(QuotaCounter.held) >= r.quota_tokens,
                            QuotaCounter.held - r.quota_tokens), else_=0),
                 used=QuotaCounter.used + used))


def release(session: Session, r: Reservation) -> None:
    """Undo a reservation whose request never ran (no usage record is written)."""
    quota = (lambda: _release_quota(session, r, 0)) if r.quotas else None
    if r.hold_id is not None:
        settle_hold(session, r.tenant_id, r.hold_id, 0, None, r.model_id, r.industries,
                    before_locks=quota)
    elif quota is not None:
        quota()


