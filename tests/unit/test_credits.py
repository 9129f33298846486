"""Prices, limits and the credit ledger's housekeeping, on a real SQLite database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from maas.db.database import Database
from maas.db.tables import CreditHold, CreditLot, LedgerEntry, Tenant, utcnow
from maas.errors import InsufficientCredits, QuotaExceeded
from maas.limits.policy import Limits
from maas.metering import credits
from maas.metering.pricing import Price, credits_to_micro, prompt_token_bounds
from maas.metering.reservations import (
    Outcome,
    QuotaScope,
    Reservation,
    ReserveRequest,
    reserve_many,
)
from maas.metering.settlement import settle_many


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'c.db'}")
    database.upgrade()
    with database.session() as s:
        s.add(Tenant(id="t", name="T", plan_id="free"))
    return database


def _books(session: Session) -> tuple[int, int]:
    ledger = sum(e.amount for e in session.exec(select(LedgerEntry)))
    lots = sum(lot.remaining + lot.held for lot in session.exec(select(CreditLot)))
    return ledger, lots


def test_price_is_exact_and_monotonic() -> None:
    price = Price(0.0005, 0.001)
    assert price.cost(1000, 1000) == 1500  # micro-credits
    assert price.cost(1, 1) == 2  # 0.5 + 1.0 rounds half up
    assert Price(0, 0).free and price.cost(0, 0) == 0
    assert credits_to_micro("0.1") == 100_000
    budget = price.affordable_completion(100, 10_000, 1_000_000)
    assert price.cost(100, budget) <= 10_000 < price.cost(100, budget + 1)
    assert price.affordable_completion(10**9, 1, 10) == -1
    assert Price(1, 0).affordable_completion(1000, 999_999, 0) == -1  # embeddings
    assert Price(1, 0).affordable_completion(1000, 1_000_000, 0) == 0


def test_prompt_bounds_never_undercount_bytes() -> None:
    likely, upper = prompt_token_bounds("chat.completions", {"messages": [
        {"role": "user", "content": "电机轴承温度过高"},
        {"role": "user", "content": [{"type": "text", "text": "abc"}]}]})
    assert upper >= len("电机轴承温度过高".encode()) + 3 and likely <= upper
    assert prompt_token_bounds("embeddings", {"input": [1, 2, 3]}) == (3, 3)


def test_limits_narrowing() -> None:
    plan = Limits(requests_per_minute=60, model_tags=["general"])
    assert Limits(requests_per_minute=10, model_tags=["general"]).narrows(plan)
    assert not Limits().narrows(plan)  # unlimited is wider
    assert not Limits(requests_per_minute=10, model_tags=["general", "gpu"]).narrows(plan)
    assert plan.allows_tags(["general", "small"]) and not plan.allows_tags(["gpu"])


def test_expiry_and_stale_holds_keep_the_books(db: Database) -> None:
    with db.session() as s:
        soon = credits.add_lot(s, "t", 1000, source="grant", kind="grant", actor=None,
                               expires_at=utcnow() + timedelta(hours=1))
        credits.add_lot(s, "t", 500, source="grant", kind="grant", actor=None,
                        restrict_models=["m"])
        credits.add_lot(s, "t", 700, source="grant", kind="grant", actor=None)
    # Restricted credits are spent first, then the soonest to expire.
    r = Reservation(tenant_id="t", model_id="m", industries=[], price=Price(0.001, 0),
                    prepaid=True)
    with db.session(write=True) as s:
        assert reserve_many(s, [ReserveRequest(r, 1200, 1200, 0)]) == [None]
    with db.session() as s:
        hold = s.get(CreditHold, r.hold_id)
        by_amount = {s.get(CreditLot, k).amount: v for k, v in hold.allocations.items()}
        assert by_amount == {500: 500, 1000: 700}
    # The lot expires while the request is in flight; the sweeper takes what is left.
    with db.session(write=True) as s:
        assert credits.expire_lots(s, now=utcnow() + timedelta(hours=2)) == 1
    with db.session(write=True) as s:
        settle_many(s, [(r, Outcome("embeddings", 600, 0, 200, "ok", 5))])
    with db.session() as s:
        assert s.get(CreditLot, soon.id).remaining == 600  # returned after expiry ...
    with db.session(write=True) as s:
        credits.expire_lots(s, now=utcnow() + timedelta(hours=2))
    with db.session() as s:
        assert s.get(CreditLot, soon.id).remaining == 0  # ... and expired on the next pass
        ledger, lots = _books(s)
        assert ledger == lots == 700
        kinds = [e.kind for e in s.exec(select(LedgerEntry))]
        assert kinds.count("expire") == 2 and kinds.count("debit") == 2
    # A hold left by a crashed gateway goes back to the lots.
    r2 = Reservation(tenant_id="t", model_id="x", industries=[], price=Price(0.001, 0),
                     prepaid=True)
    with db.session(write=True) as s:
        reserve_many(s, [ReserveRequest(r2, 300, 300, 0)])
    with db.session() as s:
        stale = credits.stale_holds(s, timedelta(seconds=-1))
    assert [h for h, _ in stale] == [r2.hold_id]
    with db.session(write=True) as s:
        credits.settle_hold(s, "t", r2.hold_id, 0, None, "", [])
    with db.session() as s:
        assert credits.balance(s, "t")["available_micro"] == 700
        assert _books(s) == (700, 700)


def test_a_batch_admits_what_fits_and_refuses_the_rest(db: Database) -> None:
    with db.session() as s:
        credits.add_lot(s, "t", 250, source="grant", kind="grant", actor=None)
    quota = [QuotaScope("tenant:t", 100)]
    batch = [ReserveRequest(Reservation(tenant_id="t", model_id="m", industries=[],
                                        price=Price(0.001, 0), prepaid=True, quotas=quota),
                            40, 100, 0) for _ in range(4)]
    with db.session(write=True) as s:
        results = reserve_many(s, batch)
    # Credits for 2 holds of 100; quota for 2 x 40 tokens: the 3rd and 4th are refused.
    assert results[:2] == [None, None]
    assert isinstance(results[2], InsufficientCredits | QuotaExceeded)
    assert all(e is not None for e in results[2:])
    with db.session() as s:
        assert credits.balance(s, "t")["held_micro"] == 200
        assert len(s.exec(select(CreditHold)).all()) == 2
