"""`/admin/v1/voucher-batches`: issue (codes returned once), list, revoke; and
`/admin/v1/users` and the platform-level audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import in_session, platform_admin, services
from maas.metering import vouchers
from maas.metering.pricing import credits_to_micro
from maas.services import Services
from maas.tenancy import audit, users
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/admin/v1", tags=["admin"])


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    issuer: str = Field(min_length=1, max_length=200)
    amount: float = Field(gt=0, le=1e9, description="Credits per voucher.")
    count: int = Field(ge=1, le=vouchers.MAX_BATCH)
    expires_at: datetime | None = None
    credit_days: int | None = Field(default=None, ge=1, le=3650)
    restrict_models: list[str] | None = None
    restrict_industries: list[str] | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    is_platform_admin: bool = False


@router.post("/voucher-batches", status_code=201)
async def issue(body: BatchCreate, who: Principal = Depends(platform_admin),
                svc: Services = Depends(services)) -> dict[str, Any]:
    def work(session: Any) -> dict[str, Any]:
        issued = vouchers.issue_batch(
            session, name=body.name, issuer=body.issuer, amount=credits_to_micro(body.amount),
            count=body.count, expires_at=body.expires_at, credit_days=body.credit_days,
            restrict_models=body.restrict_models, restrict_industries=body.restrict_industries,
            by=who)
        return {**vouchers.batch_view(issued.batch, 0), "codes": issued.codes}

    return await in_session(svc, work)


@router.get("/voucher-batches")
async def list_batches(who: Principal = Depends(platform_admin),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    data = await in_session(svc, lambda s: [
        vouchers.batch_view(b, vouchers.redeemed_count(s, b.id))
        for b in vouchers.list_batches(s)])
    return {"object": "list", "data": data}


@router.post("/voucher-batches/{batch_id}/revoke")
async def revoke(batch_id: str, who: Principal = Depends(platform_admin),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    return await in_session(svc, lambda s: vouchers.batch_view(vouchers.revoke_batch(
        s, batch_id, by=who)))


@router.post("/users", status_code=201)
async def create_user(body: UserCreate, who: Principal = Depends(platform_admin),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    user = await in_session(svc, lambda s: users.create_user(
        s, body.email, body.name, body.password, is_platform_admin=body.is_platform_admin,
        by=who))
    return {"id": user.id, "object": "user", "email": user.email, "name": user.name,
            "is_platform_admin": user.is_platform_admin, "created_at": user.created_at}


@router.get("/audit")
async def platform_audit(action: str | None = None, before_id: int | None = None,
                         limit: int = Query(default=100, ge=1, le=1000),
                         who: Principal = Depends(platform_admin),
                         svc: Services = Depends(services)) -> dict[str, Any]:
    data = await in_session(svc, lambda s: [audit.event_view(e) for e in audit.list_events(
        s, None, action=action, before_id=before_id, limit=limit)])
    return {"object": "list", "data": data}
