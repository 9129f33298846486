"""Credits: lots, holds and the append-only ledger.

Every operation first bumps the tenant's `credit_accounts` row. On PostgreSQL that takes
the row lock, on SQLite the database write lock, so one tenant's credit operations run
one at a time while different tenants proceed in parallel (on PostgreSQL). Invariants,
checked by the tests under concurrency:

- a lot's `remaining` and `held` never go below zero, so the balance never goes negative;
- ledger sum == account.available + account.held == sum of lots' remaining + held;
- for every request, its ledger debits sum to minus its usage record's cost.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from maas.db.tables import CreditAccount, CreditHold, CreditLot, LedgerEntry, Tenant, utcnow
from maas.errors import InsufficientCredits, InvalidRequest, NotFound
from maas.metering.pricing import micro_to_credits
from maas.tenancy import audit
from maas.tenancy.principal import Principal


def lock_account(session: Session, tenant_id: str) -> CreditAccount:
    """Serialise this tenant's credit operations (see the module docstring)."""
    bumped = session.execute(
        update(CreditAccount).where(col(CreditAccount.tenant_id) == tenant_id)
        .values(version=CreditAccount.version + 1, updated_at=utcnow())
    )
    if bumped.rowcount == 0:  # type: ignore[attr-defined]
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        session.add(CreditAccount(tenant_id=tenant_id, version=1))
        session.flush()
    account = session.get(CreditAccount, tenant_id, populate_existing=True)
    assert account is not None
    return account


def _eligible(lot: CreditLot, model_id: str, industries: list[str], now: datetime) -> bool:
    if lot.remaining <= 0 or lot.expired_at is not None:
        return False
    if lot.expires_at is not None and lot.expires_at <= now:
        return False
    if lot.restrict_models is not None and model_id not in lot.restrict_models:
        return False
    restricted = lot.restrict_industries
    return restricted is None or bool(set(industries) & set(restricted))


def _spend_order(lot: CreditLot) -> tuple[int, datetime]:
    """Restricted credits first (they are useless elsewhere), then soonest to expire."""
    restricted = lot.restrict_models is not None or lot.restrict_industries is not None
    return (0 if restricted else 1, lot.expires_at or datetime.max.replace(tzinfo=UTC))


def eligible_lots(session: Session, tenant_id: str, model_id: str, industries: list[str],
                  now: datetime | None = None) -> list[CreditLot]:
    now = now or utcnow()
    lots = session.exec(select(CreditLot).where(CreditLot.tenant_id == tenant_id,
                                                col(CreditLot.remaining) > 0))
    return sorted((lot for lot in lots if _eligible(lot, model_id, industries, now)),
                  key=_spend_order)


def _ledger(session: Session, tenant_id: str, kind: str, amount: int, **fields: Any) -> None:
    session.add(LedgerEntry(tenant_id=tenant_id, kind=kind, amount=amount, **fields))


def add_lot(session: Session, tenant_id: str, amount: int, *, source: str, kind: str,
            actor: str | None, description: str = "", expires_at: datetime | None = None,
            restrict_models: list[str] | None = None,
            restrict_industries: list[str] | None = None,
            voucher_id: str | None = None) -> CreditLot:
    """Credit a tenant (a grant by an admin or a redeemed voucher) and record it."""
    if amount <= 0:
        raise InvalidRequest("an amount of credits must be positive", param="amount")
    account = lock_account(session, tenant_id)
    lot = CreditLot(id="lot_" + secrets.token_hex(8), tenant_id=tenant_id, source=source,
                    voucher_id=voucher_id, amount=amount, remaining=amount,
                    expires_at=expires_at, restrict_models=restrict_models,
                    restrict_industries=restrict_industries)
    session.add(lot)
    account.available += amount
    session.add(account)
    _ledger(session, tenant_id, kind, amount, lot_id=lot.id, voucher_id=voucher_id,
            actor=actor, description=description)
    session.flush()
    return lot


def grant(session: Session, tenant_id: str, amount: int, *, by: Principal | None,
          description: str = "", expires_at: datetime | None = None,
          restrict_models: list[str] | None = None,
          restrict_industries: list[str] | None = None) -> CreditLot:
    """A platform admin credits a tenant directly (not through a voucher)."""
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest("expires_at must be in the future", param="expires_at")
    lot = add_lot(session, tenant_id, amount, source="grant", kind="grant",
                  actor=by.actor if by else None, description=description or "credit grant",
                  expires_at=expires_at, restrict_models=restrict_models or None,
                  restrict_industries=restrict_industries or None)
    audit.record(session, by, "credits.grant", "credit_lot", lot.id, tenant_id,
                 amount=micro_to_credits(amount), expires_at=expires_at and
                 expires_at.isoformat(), restrict_models=restrict_models,
                 restrict_industries=restrict_industries)
    return lot


@dataclass(frozen=True)
class HoldResult:
    hold_id: str | None
    amount: int


def place_hold(session: Session, tenant_id: str, hold_id: str, amount: int, model_id: str,
               industries: list[str], account: CreditAccount) -> HoldResult:
    """Reserve `amount` from eligible lots (the caller holds the account lock)."""
    if amount <= 0:
        return HoldResult(None, 0)
    lots = eligible_lots(session, tenant_id, model_id, industries)
    allocations: dict[str, int] = {}
    needed = amount
    for lot in lots:
        take = min(lot.remaining, needed)
        lot.remaining -= take
        lot.held += take
        allocations[lot.id] = take
        session.add(lot)
        needed -= take
        if needed == 0:
            break
    if needed:
        raise AssertionError("place_hold called with more than is available")
    account.available -= amount
    account.held += amount
    session.add(account)
    session.add(CreditHold(id=hold_id, tenant_id=tenant_id, amount=amount,
                           allocations=allocations))
    return HoldResult(hold_id, amount)


def available_for(session: Session, tenant_id: str, model_id: str, industries: list[str]
                  ) -> int:
    return sum(lot.remaining for lot in eligible_lots(session, tenant_id, model_id, industries))


def insufficient(tenant_id: str, available: int, needed: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"Tenant {tenant_id!r} has {micro_to_credits(available):.6f} credits usable for this "
        f"model but the request needs at least {micro_to_credits(needed):.6f}. Redeem a "
        "voucher or ask your platform admin for credits.")


def settle_hold(session: Session, tenant_id: str, hold_id: str | None, cost: int,
                usage_id: str | None, model_id: str, industries: list[str]) -> int:
    """Turn a hold into debits of `cost` and return the rest; returns what was charged.

    The caller holds the account lock. If `cost` exceeds the hold (it cannot when the
    hold was sized from an upper bound, but engines are not ours to trust), the extra
    comes from other eligible lots as far as they reach; the balance never goes negative.
    """
    account = session.get(CreditAccount, tenant_id)
    assert account is not None
    hold = session.get(CreditHold, hold_id) if hold_id else None
    charged = 0
    to_charge = cost
    if hold is not None:
        for lot_id, held in hold.allocations.items():
            lot = session.get(CreditLot, lot_id)
            assert lot is not None
            take = min(held, to_charge)
            lot.held -= held
            lot.remaining += held - take
            to_charge -= take
            charged += take
            if take:
                _ledger(session, tenant_id, "debit", -take, lot_id=lot.id, usage_id=usage_id,
                        description=f"usage of {model_id}")
            if lot.expired_at is not None and lot.remaining:  # expired while in flight
                _ledger(session, tenant_id, "expire", -lot.remaining, lot_id=lot.id,
                        description="credits expired")
                account.available -= lot.remaining
                lot.remaining = 0
            session.add(lot)
        account.held -= hold.amount
        account.available += hold.amount - charged
        session.delete(hold)
    if to_charge > 0:
        for lot in eligible_lots(session, tenant_id, model_id, industries):
            take = min(lot.remaining, to_charge)
            lot.remaining -= take
            account.available -= take
            to_charge -= take
            charged += take
            session.add(lot)
            _ledger(session, tenant_id, "debit", -take, lot_id=lot.id, usage_id=usage_id,
                    description=f"usage of {model_id}")
            if to_charge == 0:
                break
    session.add(account)
    return charged


def release_stale_holds(session: Session, older_than: timedelta) -> int:
    """Release holds a crashed gateway left behind (no usage was recorded for them)."""
    cutoff = utcnow() - older_than
    released = 0
    for hold in list(session.exec(select(CreditHold).where(col(CreditHold.created_at) < cutoff))):
        lock_account(session, hold.tenant_id)
        settle_hold(session, hold.tenant_id, hold.id, 0, None, "", [])
        released += 1
    return released


def expire_lots(session: Session, now: datetime | None = None) -> int:
    """Expire lots past their date: the unused remainder leaves with a ledger entry."""
    now = now or utcnow()
    due = session.exec(select(CreditLot).where(col(CreditLot.expires_at).is_not(None),
                                               col(CreditLot.expires_at) <= now,
                                               col(CreditLot.expired_at).is_(None)))
    count = 0
    for lot in list(due):
        account = lock_account(session, lot.tenant_id)
        session.refresh(lot)
        if lot.remaining:
            _ledger(session, lot.tenant_id, "expire", -lot.remaining, lot_id=lot.id,
                    description="credits expired")
            account.available -= lot.remaining
            lot.remaining = 0
        lot.expired_at = now
        session.add_all([lot, account])
        count += 1
    return count


def balance(session: Session, tenant_id: str) -> dict[str, Any]:
    account = session.get(CreditAccount, tenant_id)
    available = account.available if account else 0
    held = account.held if account else 0
    lots = session.exec(select(CreditLot).where(CreditLot.tenant_id == tenant_id,
                                                col(CreditLot.remaining) + col(CreditLot.held)
                                                > 0).order_by(col(CreditLot.created_at)))
    return {
        "object": "credit_balance", "tenant_id": tenant_id,
        "available": micro_to_credits(available), "held": micro_to_credits(held),
        "available_micro": available, "held_micro": held,
        "lots": [lot_view(lot) for lot in lots],
    }


def lot_view(lot: CreditLot) -> dict[str, Any]:
    return {"id": lot.id, "source": lot.source, "amount": micro_to_credits(lot.amount),
            "remaining": micro_to_credits(lot.remaining), "held": micro_to_credits(lot.held),
            "expires_at": lot.expires_at, "restrict_models": lot.restrict_models,
            "restrict_industries": lot.restrict_industries, "voucher_id": lot.voucher_id,
            "created_at": lot.created_at}


def ledger(session: Session, tenant_id: str, *, limit: int = 100,
           before_id: int | None = None, kind: str | None = None) -> list[LedgerEntry]:
    statement = select(LedgerEntry).where(LedgerEntry.tenant_id == tenant_id)
    if kind:
        statement = statement.where(LedgerEntry.kind == kind)
    if before_id:
        statement = statement.where(col(LedgerEntry.id) < before_id)
    return list(session.exec(statement.order_by(col(LedgerEntry.id).desc()).limit(limit)))


def ledger_view(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "object": "ledger_entry", "kind": entry.kind,
            "amount": micro_to_credits(entry.amount), "amount_micro": entry.amount,
            "lot_id": entry.lot_id, "usage_id": entry.usage_id, "voucher_id": entry.voucher_id,
            "actor": entry.actor, "description": entry.description,
            "created_at": entry.created_at}
