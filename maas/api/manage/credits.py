"""`/api/v1/tenants/{tenant_id}`: the tenant itself, its credit balance and ledger, and
voucher redemption."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import in_session, principal, services
from maas.metering import credits, vouchers
from maas.services import Services
from maas.tenancy import tenants
from maas.tenancy.principal import TENANT_ADMIN, Principal, require_tenant

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}", tags=["credits"])


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=64)


@router.get("")
async def show_tenant(tenant_id: str, who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)

    def work(session: Any) -> dict[str, Any]:
        tenant = tenants.get_tenant(session, tenant_id)
        plan = tenants.get_plan(session, tenant.plan_id)
        return {**tenants.tenant_view(tenant), "plan": tenants.plan_view(plan)}

    return await in_session(svc, work)


@router.get("/credits")
async def balance(tenant_id: str, who: Principal = Depends(principal),
                  svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    return await in_session(svc, lambda s: credits.balance(s, tenant_id))


@router.get("/credits/ledger")
async def ledger(tenant_id: str, kind: str | None = None, before_id: int | None = None,
                 limit: int = Query(default=100, ge=1, le=1000),
                 who: Principal = Depends(principal), svc: Services = Depends(services)
                 ) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)
    data = await in_session(svc, lambda s: [credits.ledger_view(e) for e in credits.ledger(
        s, tenant_id, limit=limit, before_id=before_id, kind=kind)])
    return {"object": "list", "data": data}


@router.post("/credits/redeem", status_code=201)
async def redeem(tenant_id: str, body: Redeem, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)

    def work(session: Any) -> dict[str, Any]:
        voucher = vouchers.redeem(session, tenant_id, body.code, by=who)
        return {"redeemed": True, "voucher_id": voucher.id, "lot_id": voucher.lot_id,
                "balance": credits.balance(session, tenant_id)}

    return await in_session(svc, work)
