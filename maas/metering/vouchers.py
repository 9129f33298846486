"""Voucher batches ("AI vouchers"): issued by platform admins, redeemed by tenants.

Codes are secrets like API keys: shown once at issue, stored as SHA-256 only, compared
by hash. Redeeming creates a credit lot that carries the batch's restrictions and expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from maas.db.tables import Voucher, VoucherBatch, utcnow
from maas.errors import Conflict, InvalidRequest, NotFound
from maas.metering.credits import add_lot
from maas.metering.pricing import micro_to_credits
from maas.tenancy import audit
from maas.tenancy.principal import Principal

CODE_PREFIX = "MAAS-"
MAX_BATCH = 10_000
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes get typed by hand


def generate_code() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(20))
    return CODE_PREFIX + "-".join(body[i:i + 5] for i in range(0, 20, 5))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace(" ", "")


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedBatch:
    batch: VoucherBatch
    codes: list[str]  # only available here, at issue time


def issue_batch(session: Session, *, name: str, issuer: str, amount: int, count: int,
                expires_at: datetime | None = None, credit_days: int | None = None,
                restrict_models: list[str] | None = None,
                restrict_industries: list[str] | None = None,
                by: Principal | None = None) -> IssuedBatch:
    if amount <= 0:
        raise InvalidRequest("a voucher's amount must be positive", param="amount")
    if not 1 <= count <= MAX_BATCH:
        raise InvalidRequest(f"count must be between 1 and {MAX_BATCH}", param="count")
    if not name.strip() or not issuer.strip():
        raise InvalidRequest("a batch needs a name and an issuer", param="issuer")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidRequest("expires_at must be in the future", param="expires_at")
    if credit_days is not None and credit_days < 1:
        raise InvalidRequest("credit_days must be at least 1", param="credit_days")
    batch = VoucherBatch(id="vb_" + secrets.token_hex(8), name=name.strip(),
                         issuer=issuer.strip(), amount=amount, count=count,
                         expires_at=expires_at, credit_days=credit_days,
                         restrict_models=restrict_models or None,
                         restrict_industries=restrict_industries or None,
                         created_by=by.actor if by else None)
    session.add(batch)
    session.flush()
    codes = [generate_code() for _ in range(count)]
    session.add_all(Voucher(id="vch_" + secrets.token_hex(8), batch_id=batch.id,
                            code_hash=hash_code(code), prefix=code[:10]) for code in codes)
    session.flush()
    audit.record(session, by, "voucher_batch.issue", "voucher_batch", batch.id, None,
                 name=batch.name, issuer=batch.issuer, count=count,
                 amount=micro_to_credits(amount), restrict_models=restrict_models,
                 restrict_industries=restrict_industries)
    return IssuedBatch(batch=batch, codes=codes)


def revoke_batch(session: Session, batch_id: str, by: Principal | None = None) -> VoucherBatch:
    batch = get_batch(session, batch_id)
    if batch.revoked_at is None:
        batch.revoked_at = utcnow()
        session.add(batch)
        audit.record(session, by, "voucher_batch.revoke", "voucher_batch", batch.id, None)
    return batch


def get_batch(session: Session, batch_id: str) -> VoucherBatch:
    batch = session.get(VoucherBatch, batch_id)
    if batch is None:
        raise NotFound(f"voucher batch {batch_id!r} not found")
    return batch


def list_batches(session: Session) -> list[VoucherBatch]:
    return list(session.exec(select(VoucherBatch).order_by(col(VoucherBatch.created_at))))


def redeemed_count(session: Session, batch_id: str) -> int:
    return session.exec(select(func.count()).select_from(Voucher).where(
        Voucher.batch_id == batch_id, col(Voucher.redeemed_at).is_not(None))).one()


def redeem(session: Session, tenant_id: str, code: str, by: Principal | None = None
           ) -> Voucher:
    """Turn a code into a credit lot for `tenant_id`; each code works exactly once."""
    voucher = session.exec(select(Voucher).where(Voucher.code_hash == hash_code(code))
                           .with_for_update()).first()
    if voucher is None:
        raise NotFound("this voucher code is not valid", param="code", code="invalid_voucher")
    batch = get_batch(session, voucher.batch_id)
    now = utcnow()
    if voucher.redeemed_at is not None:
        raise Conflict("this voucher has already been redeemed", param="code",
                       code="voucher_redeemed")
    if batch.revoked_at is not None:
        raise InvalidRequest("this voucher has been withdrawn by its issuer", param="code",
                             code="voucher_revoked")
    if batch.expires_at is not None and batch.expires_at <= now:
        raise InvalidRequest("this voucher has expired", param="code", code="voucher_expired")
    expires = batch.expires_at
    if batch.credit_days is not None:
        after = now + timedelta(days=batch.credit_days)
        expires = min(expires, after) if expires else after
    lot = add_lot(session, tenant_id, batch.amount, source="voucher", kind="redeem",
                  actor=by.actor if by else None, voucher_id=voucher.id,
                  description=f"voucher {voucher.prefix}... from {batch.issuer}",
                  expires_at=expires, restrict_models=batch.restrict_models,
                  restrict_industries=batch.restrict_industries)
    voucher.redeemed_by, voucher.redeemed_at, voucher.lot_id = tenant_id, now, lot.id
    session.add(voucher)
    session.flush()
    audit.record(session, by, "voucher.redeem", "voucher", voucher.id, tenant_id,
                 batch_id=batch.id, amount=micro_to_credits(batch.amount))
    return voucher


def batch_view(batch: VoucherBatch, redeemed: int | None = None) -> dict[str, Any]:
    return {"id": batch.id, "object": "voucher_batch", "name": batch.name,
            "issuer": batch.issuer, "amount": micro_to_credits(batch.amount),
            "count": batch.count, "redeemed": redeemed, "expires_at": batch.expires_at,
            "credit_days": batch.credit_days, "restrict_models": batch.restrict_models,
            "restrict_industries": batch.restrict_industries, "created_by": batch.created_by,
            "created_at": batch.created_at, "revoked_at": batch.revoked_at}
