"""The database half of metering: reserve before a request runs, settle after.

`reserve` checks the monthly token quotas and holds credits in one transaction;
`settlement.settle_many` writes the usage records, the ledger debits and the quota use in
one transaction, so a usage record and the credits it cost can never disagree.

Both are a handful of short statements: reads first, then conditional UPDATEs of the few
rows that many requests share (a tenant's quota counter, its credit lots), so those rows
stay locked only for the last statements before the commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from maas.db.tables import QuotaCounter, utcnow
from maas.errors import QuotaExceeded
from maas.metering.credits import (
    allocate,
    available_for,
    eligible_lots,
    insufficient,
    place_hold,
    settle_hold,
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


def _hold_quota(session: Session, quota: QuotaScope, period: str, tokens: int) -> None:
    """Add `tokens` to the scope's held count if the quota has room, else raise."""
    for _ in range(2):
        result = session.execute(update(QuotaCounter).where(
            col(QuotaCounter.scope) == quota.scope, col(QuotaCounter.period) == period,
            col(QuotaCounter.used) + col(QuotaCounter.held) + tokens <= quota.monthly_tokens,
        ).values(held=QuotaCounter.held + tokens))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            return
        counter = session.get(QuotaCounter, (quota.scope, period), populate_existing=True)
        if counter is not None:
            left = max(0, quota.monthly_tokens - counter.used - counter.held)
            raise QuotaExceeded(
                f"The monthly token quota of {quota.scope} is used up for {period} "
                f"({counter.used} of {quota.monthly_tokens} tokens used, {left} left; this "
                f"request may need {tokens}). It resets at the start of next month.",
                code="quota_exceeded")
        if tokens > quota.monthly_tokens:
            raise QuotaExceeded(f"This request may need {tokens} tokens, more than the "
                                f"monthly quota of {quota.scope} ({quota.monthly_tokens}).",
                                code="quota_exceeded")
        try:  # first request of the month for this scope
            with session.begin_nested():
                session.execute(insert(QuotaCounter).values(scope=quota.scope, period=period,
                                                            used=0, held=0))
        except IntegrityError:
            pass  # another request created it first; the loop retries the update


def reserve(session: Session | None, r: Reservation, prompt_likely: int, prompt_upper: int,
            wanted_completion: int) -> Reservation:
    """Admit a request against quotas and credits, or raise a clear error.

    Raises `LotConflict` when a lot changed under us: the caller rolls back and retries.
    """
    r.max_completion = wanted_completion
    r.quota_tokens = prompt_likely + wanted_completion
    if not r.touches_db or session is None:
        return r
    r.period = period_of(utcnow())
    allocations: dict[str, int] = {}
    if r.prepaid and not r.price.free:
        lots = eligible_lots(session, r.tenant_id, r.model_id, r.industries)
        available = available_for(lots)
        budget = r.price.affordable_completion(prompt_upper, available, wanted_completion)
        if budget < 1 and not (budget == 0 and wanted_completion == 0):
            raise insufficient(r.tenant_id, available, r.price.cost(prompt_upper, 1))
        r.max_completion = budget
        r.hold_amount = r.price.cost(prompt_upper, budget)
        r.quota_tokens = prompt_likely + budget
        allocations = allocate(lots, r.hold_amount)
    # Lock order everywhere: quota counters by scope, then lots by id.
    for quota in sorted(r.quotas, key=lambda q: q.scope):
        _hold_quota(session, quota, r.period, r.quota_tokens)
    if allocations:
        r.hold_id = "hold_" + r.usage_id
        place_hold(session, r.tenant_id, r.hold_id, allocations)
    return r


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


