"""The database half of metering: reserve before a request runs, settle after.

`reserve` checks the monthly token quotas and holds credits in one transaction;
`settle` writes the usage record, the ledger debits and the quota use in one
transaction, so a usage record and the credits it cost can never disagree.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from maas.db.tables import QuotaCounter, UsageRecord, utcnow
from maas.errors import QuotaExceeded
from maas.metering.credits import available_for, insufficient, lock_account, place_hold, settle_hold
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


def _counter(session: Session, scope: str, period: str) -> QuotaCounter:
    counter = session.get(QuotaCounter, (scope, period), populate_existing=True)
    if counter is None:
        counter = QuotaCounter(scope=scope, period=period)
        session.add(counter)
        session.flush()
    return counter


def reserve(session: Session, r: Reservation, prompt_likely: int, prompt_upper: int,
            wanted_completion: int) -> Reservation:
    """Admit a request against quotas and credits, or raise a clear error.

    The caller's transaction commits or rolls back the whole reservation.
    """
    needs_credits = r.prepaid and not r.price.free
    if not r.quotas and not needs_credits:
        r.max_completion = wanted_completion
        return r
    account = lock_account(session, r.tenant_id)
    now = utcnow()
    r.period = period_of(now)
    r.quota_tokens = prompt_likely + wanted_completion
    for quota in r.quotas:
        counter = _counter(session, quota.scope, r.period)
        if counter.used + counter.held + r.quota_tokens > quota.monthly_tokens:
            left = max(0, quota.monthly_tokens - counter.used - counter.held)
            raise QuotaExceeded(
                f"The monthly token quota of {quota.scope} is used up for {r.period} "
                f"({counter.used} of {quota.monthly_tokens} tokens used, {left} left; this "
                f"request may need {r.quota_tokens}). It resets at the start of next month.",
                code="quota_exceeded")
    if needs_credits:
        available = available_for(session, r.tenant_id, r.model_id, r.industries)
        budget = r.price.affordable_completion(prompt_upper, available, wanted_completion)
        if budget < 1 and not (budget == 0 and wanted_completion == 0):
            raise insufficient(r.tenant_id, available, r.price.cost(prompt_upper, 1))
        r.max_completion = budget
        amount = r.price.cost(prompt_upper, budget)
        r.hold_id = "hold_" + r.usage_id
        place_hold(session, r.tenant_id, r.hold_id, amount, r.model_id, r.industries, account)
        r.hold_amount = amount
        r.quota_tokens = prompt_likely + budget
    else:
        r.max_completion = wanted_completion
    for quota in r.quotas:
        counter = _counter(session, quota.scope, r.period)
        counter.held += r.quota_tokens
        session.add(counter)
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


def settle(session: Session, r: Reservation, o: Outcome) -> UsageRecord:
    """Write the usage record, debit the credits, move quota from held to used."""
    cost = r.price.cost(o.prompt_tokens, o.completion_tokens)
    charged = cost
    if r.hold_id is not None or r.quotas or (r.prepaid and cost > 0):
        lock_account(session, r.tenant_id)
    if r.prepaid and (r.hold_id is not None or cost > 0):
        charged = settle_hold(session, r.tenant_id, r.hold_id, cost, r.usage_id, r.model_id,
                              r.industries)
    total = o.prompt_tokens + o.completion_tokens
    for quota in r.quotas:
        counter = _counter(session, quota.scope, r.period or period_of(utcnow()))
        counter.held = max(0, counter.held - r.quota_tokens)
        counter.used += total
        session.add(counter)
    record = UsageRecord(
        id=r.usage_id, request_id=o.request_id, tenant_id=r.tenant_id, key_id=o.key_id,
        user_id=o.user_id, model_id=r.model_id, app_id=o.app_id, endpoint=o.endpoint,
        prompt_tokens=o.prompt_tokens, completion_tokens=o.completion_tokens,
        total_tokens=total, cost=charged, latency_ms=o.latency_ms, status=o.status,
        outcome=o.outcome, estimated=o.estimated,
    )
    session.add(record)
    return record


def release(session: Session, r: Reservation) -> None:
    """Undo a reservation whose request never ran (no usage record is written)."""
    if r.hold_id is None and not r.quotas:
        return
    lock_account(session, r.tenant_id)
    if r.hold_id is not None:
        settle_hold(session, r.tenant_id, r.hold_id, 0, None, r.model_id, r.industries)
    for quota in r.quotas:
        counter = _counter(session, quota.scope, r.period)
        counter.held = max(0, counter.held - r.quota_tokens)
        session.add(counter)
