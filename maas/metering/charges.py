"""Charges outside a `/v1` request's admission: an app's own fee (credits per run or per
month, on top of its model's tokens) and the embeddings of an uploaded document.

A charge is a usage record (endpoint `apps.run`, `apps.subscription` or `knowledge.ingest`)
and, for a prepaid tenant, ledger debits from its usable lots, written in one transaction.
A monthly fee must be paid in full or it is refused; a run's fee is checked before the run
(`affordable`) and charged when the run has produced its answer, so a run that fails costs
no fee; a document's embeddings are charged once it is indexed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session

from maas.db.tables import UsageRecord
from maas.errors import InsufficientCredits
from maas.metering.credits import eligible_lots, settle_hold
from maas.metering.pricing import micro_to_credits
from maas.tenancy.principal import Principal


@dataclass(frozen=True)
class AppCharge:
    slug: str
    industry: str
    amount: int  # micro-credits
    endpoint: str  # apps.run | apps.subscription

    @property
    def model_id(self) -> str:
        return f"app:{self.slug}"


def usable_credits(session: Session, tenant_id: str, model_id: str,
                   industries: list[str]) -> int:
    """Micro-credits a tenant's lots hold now for spending on `model_id`."""
    return sum(lot.remaining for lot in eligible_lots(session, tenant_id, model_id, industries))


def affordable(session: Session, who: Principal, charge: AppCharge) -> None:
    """Raise 402 if a prepaid tenant cannot pay this fee now."""
    if who.billing != "prepaid" or charge.amount <= 0:
        return
    have = usable_credits(session, who.tenant_id, charge.model_id, [charge.industry])
    if have < charge.amount:
        raise InsufficientCredits(
            f"app {charge.slug!r} costs {micro_to_credits(charge.amount):.6f} credits "
            f"({charge.endpoint.split('.')[1]}); tenant {who.tenant_id!r} has "
            f"{micro_to_credits(have):.6f} usable. Redeem a voucher or ask your platform "
            "admin for credits.")


def record_usage(session: Session, who: Principal, model_id: str, industries: list[str],
                 endpoint: str, cost: int, prompt_tokens: int = 0, app_id: str | None = None,
                 request_id: str | None = None) -> UsageRecord:
    """A usage record for work done outside a `/v1` request's admission (an app's fee,
    a document's embeddings), with its cost debited from a prepaid tenant's lots as far
    as they reach; the record says what was charged."""
    usage_id = "use_" + secrets.token_hex(10)
    if who.billing == "prepaid" and cost > 0:
        cost = settle_hold(session, who.tenant_id, None, cost, usage_id, model_id, industries)
    record = UsageRecord(id=usage_id, request_id=request_id, tenant_id=who.tenant_id,
                         key_id=who.key_id, user_id=who.user_id, model_id=model_id,
                         app_id=app_id, endpoint=endpoint, prompt_tokens=prompt_tokens,
                         completion_tokens=0, total_tokens=prompt_tokens, cost=cost,
                         latency_ms=0)
    session.add(record)
    session.flush()
    return record


def charge(session: Session, who: Principal, fee: AppCharge, request_id: str | None = None,
           full: bool = True) -> UsageRecord:
    """Record and debit the fee. `full=True` refuses (402) unless all of it can be paid;
    otherwise what the lots still hold is taken and the record says what was charged."""
    if full:
        affordable(session, who, fee)
    return record_usage(session, who, fee.model_id, [fee.industry], fee.endpoint, fee.amount,
                        app_id=fee.slug, request_id=request_id)
