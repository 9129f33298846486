"""Credits: lots, holds and the append-only ledger.

A tenant's credits are lots (a grant or a redeemed voucher, each with its own expiry and
restrictions). Every change to a lot is one conditional UPDATE (`... WHERE remaining >=
:take`), so concurrent requests of one tenant never overdraw and never wait on a
tenant-wide lock: a lot row is locked only from its UPDATE to the commit. Invariants,
checked by the tests under concurrency:

- a lot's `remaining` and `held` never go below zero (also a CHECK in the database), so
  the balance never goes negative;
- ledger sum == sum of the lots' remaining + held;
- for every request, its ledger debits sum to minus its usage record's cost.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, update
from sqlmodel import Session, col, func, select

from maas.db.tables import CreditHold, CreditLot, LedgerEntry, Tenant, utcnow
from maas.errors import InsufficientCredits, InvalidRequest, NotFound
from maas.metering.pricing import micro_to_credits
from maas.tenancy import audit
from maas.tenancy.principal import Principal


class LotConflict(Exception):
    """A lot changed between reading and taking from it; retry with a fresh read."""


def usable(lot: CreditLot, model_id: str, industries: list[str], now: datetime) -> bool:
    """Whether the lot may pay for this model at all (ignoring how much it has left)."""
    if lot.expired_at is not None:
        return False
    if lot.expires_at is not None and lot.expires_at <= now:
        return False
    if lot.restrict_models is not None and model_id not in lot.restrict_models:
        return False
    restricted = lot.restrict_industries
    return restricted is None or bool(set(industries) & set(restricted))


def spend_order(lot: CreditLot) -> tuple[int, datetime, str]:
    """Restricted credits first (they are useless elsewhere), then soonest to expire."""
    restricted = lot.restrict_models is not None or lot.restrict_industries is not None
    return (0 if restricted else 1, lot.expires_at or datetime.max.replace(tzinfo=UTC), lot.id)


def eligible_lots(session: Session, tenant_id: str, model_id: str, industries: list[str],
                  now: datetime | None = None) -> list[CreditLot]:
    now = now or utcnow()
    lots = session.exec(select(CreditLot).where(CreditLot.tenant_id == tenant_id,
                                                col(CreditLot.remaining) > 0)
                        .execution_options(populate_existing=True))
    return sorted((lot for lot in lots
                   if lot.remaining > 0 and usable(lot, model_id, industries, now)),
                  key=spend_order)


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
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id!r} not found")
    lot = CreditLot(id="lot_" + secrets.token_hex(8), tenant_id=tenant_id, source=source,
                    voucher_id=voucher_id, amount=amount, remaining=amount,
                    expires_at=expires_at, restrict_models=restrict_models,
                    restrict_industries=restrict_industries)
    session.add(lot)
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


def _take(session: Session, lot_id: str, amount: int, hold: bool) -> bool:
    """Take `amount` from a lot if it still has it: into `held`, or spent outright."""
    values: dict[str, Any] = {"remaining": CreditLot.remaining - amount}
    if hold:
        values["held"] = CreditLot.held + amount
    result = session.execute(update(CreditLot).where(
        col(CreditLot.id) == lot_id, col(CreditLot.remaining) >= amount).values(**values))
    return result.rowcount == 1  # type: ignore[attr-defined]


def allocate(lots: list[CreditLot], amount: int, remaining: dict[str, int]
             ) -> dict[str, int]:
    """Split `amount` over `lots` in spend order (the caller checked the total)."""
    allocations: dict[str, int] = {}
    for lot in lots:
        if amount == 0:
            break
        take = min(remaining[lot.id], amount)
        allocations[lot.id] = take
        amount -= take
    return allocations


def insufficient(tenant_id: str, available: int, needed: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"Tenant {tenant_id!r} has {micro_to_credits(available):.6f} credits usable for this "
        f"model but the request needs at least {micro_to_credits(needed):.6f}. Redeem a "
        "voucher or ask your platform admin for credits.")


def settle_hold(session: Session, tenant_id: str, hold_id: str | None, cost: int,
                usage_id: str | None, model_id: str, industries: list[str],
                before_locks: Callable[[], None] | None = None) -> int:
    """Turn a hold into debits of `cost`, return the rest; returns what was charged.

    If `cost` exceeds the hold (it cannot when the hold was sized from an upper bound,
    but engines are not ours to trust), the extra comes from other eligible lots as far
    as they reach; the balance never goes negative. Private rows (hold, ledger) are
    written first and the shared lot rows last, so their locks are held briefly;
    `before_locks` runs just before the lots are locked (the caller's quota update).
    """
    allocations: dict[str, int] = {}
    if hold_id is not None:
        row = session.execute(select(CreditHold.allocations).where(
            col(CreditHold.id) == hold_id)).first()
        if row is not None:
            allocations = dict(row[0])
            session.execute(delete(CreditHold).where(col(CreditHold.id) == hold_id))
    charged, to_charge, takes = 0, cost, {}
    for lot_id, held in allocations.items():  # spend order, as allocated
        take = min(held, to_charge)
        takes[lot_id] = take
        to_charge -= take
        charged += take
    now = utcnow()
    entries = [{"tenant_id": tenant_id, "kind": "debit", "amount": -take, "lot_id": lot_id,
                "usage_id": usage_id, "description": f"usage of {model_id}", "created_at": now}
               for lot_id, take in takes.items() if take]
    if entries:
        session.execute(insert(LedgerEntry), entries)
    if before_locks is not None:
        before_locks()
    for lot_id in sorted(allocations):
        held, take = allocations[lot_id], takes[lot_id]
        session.execute(update(CreditLot).where(col(CreditLot.id) == lot_id).values(
            held=CreditLot.held - held, remaining=CreditLot.remaining + (held - take)))
    if to_charge > 0:
        for lot in eligible_lots(session, tenant_id, model_id, industries):
            take = min(lot.remaining, to_charge)
            if take and _take(session, lot.id, take, hold=False):
                _ledger(session, tenant_id, "debit", -take, lot_id=lot.id, usage_id=usage_id,
                        description=f"usage of {model_id}")
                to_charge -= take
                charged += take
            if to_charge == 0:
                break
    return charged


def stale_holds(session: Session, older_than: timedelta) -> list[tuple[str, str]]:
    cutoff = utcnow() - older_than
    rows = session.execute(select(CreditHold.id, CreditHold.tenant_id).where(
        col(CreditHold.created_at) < cutoff))
    return [(r[0], r[1]) for r in rows]


def expire_lots(session: Session, now: datetime | None = None) -> int:
    """Expire lots past their date: the unused remainder leaves with a ledger entry.

    Also picks up what an in-flight request returned to a lot after it expired. Each
    lot changes with one conditional UPDATE, so a concurrent settlement is never lost.
    """
    now = now or utcnow()
    due = session.exec(select(CreditLot).where(
        col(CreditLot.expires_at).is_not(None), col(CreditLot.expires_at) <= now,
        (col(CreditLot.remaining) > 0) | col(CreditLot.expired_at).is_(None))
        .execution_options(populate_existing=True))
    count = 0
    for lot in list(due):
        seen = lot.remaining
        result = session.execute(update(CreditLot).where(
            col(CreditLot.id) == lot.id, col(CreditLot.remaining) == seen).values(
            remaining=0, expired_at=lot.expired_at or now))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue  # changed under us; the next pass gets it
        if seen:
            _ledger(session, lot.tenant_id, "expire", -seen, lot_id=lot.id,
                    description="credits expired")
        count += 1
    return count


def balance(session: Session, tenant_id: str) -> dict[str, Any]:
    available, held = session.execute(select(
        func.coalesce(func.sum(CreditLot.remaining), 0),
        func.coalesce(func.sum(CreditLot.held), 0)).where(
        CreditLot.tenant_id == tenant_id)).one()
    now = utcnow()
    lots = session.exec(select(CreditLot).where(CreditLot.tenant_id == tenant_id,
                                                col(CreditLot.remaining) + col(CreditLot.held)
                                                > 0).order_by(col(CreditLot.created_at)))
    usable = [lot for lot in lots if lot.expires_at is None or lot.expires_at > now
              or lot.held]
    return {
        "object": "credit_balance", "tenant_id": tenant_id,
        "available": micro_to_credits(int(available)), "held": micro_to_credits(int(held)),
        "available_micro": int(available), "held_micro": int(held),
        "lots": [lot_view(lot) for lot in usable],
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
