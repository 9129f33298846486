"""`/admin/v1/tenants` and `/admin/v1/plans`: platform admins manage tenants, their
plans and direct credit grants. Tenant-level resources live under `/api/v1/tenants`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import in_session, platform_admin, services
from maas.limits.policy import Limits
from maas.metering import credits
from maas.metering.pricing import credits_to_micro
from maas.services import Services
from maas.tenancy import tenants
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/admin/v1", tags=["admin"])


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    plan: str = "free"
    industry: str | None = Field(default=None, max_length=64)
    owner_email: str | None = None


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    plan: str | None = None
    industry: str | None = Field(default=None, max_length=64)
    disabled: bool | None = None


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    billing: str = "prepaid"
    limits: Limits = Field(default_factory=Limits)


class PlanUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    billing: str | None = None
    limits: Limits | None = None


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: float = Field(gt=0, le=1e9, description="Credits.")
    description: str = Field(default="", max_length=300)
    expires_at: datetime | None = None
    restrict_models: list[str] | None = None
    restrict_industries: list[str] | None = None


@router.get("/tenants")
async def list_tenants(who: Principal = Depends(platform_admin),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    data = await in_session(svc, lambda s: [tenants.tenant_view(t)
                                            for t in tenants.list_tenants(s)])
    return {"object": "list", "data": data}


@router.post("/tenants", status_code=201)
async def create_tenant(body: TenantCreate, who: Principal = Depends(platform_admin),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    return await in_session(svc, lambda s: tenants.tenant_view(tenants.create_tenant(
        s, body.id, body.name, plan_id=body.plan, industry=body.industry,
        owner_email=body.owner_email, by=who)))


@router.get("/tenants/{tenant_id}")
async def show_tenant(tenant_id: str, who: Principal = Depends(platform_admin),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    return await in_session(svc, lambda s: tenants.tenant_view(tenants.get_tenant(s,
                                                                                  tenant_id)))


@router.patch("/tenants/{tenant_id}")
async def update_tenant(tenant_id: str, body: TenantUpdate,
                        who: Principal = Depends(platform_admin),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    view = await in_session(svc, lambda s: tenants.tenant_view(tenants.update_tenant(
        s, tenant_id, name=body.name, plan_id=body.plan, industry=body.industry,
        disabled=body.disabled, by=who)))
    svc.principals.clear()  # plan and status travel with cached principals
    return view


@router.post("/tenants/{tenant_id}/credits", status_code=201)
async def grant_credits(tenant_id: str, body: Grant, who: Principal = Depends(platform_admin),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    def work(session: Any) -> dict[str, Any]:
        tenants.get_tenant(session, tenant_id)
        lot = credits.grant(session, tenant_id, credits_to_micro(body.amount), by=who,
                            description=body.description, expires_at=body.expires_at,
                            restrict_models=body.restrict_models,
                            restrict_industries=body.restrict_industries)
        return {"lot": credits.lot_view(lot), "balance": credits.balance(session, tenant_id)}

    return await in_session(svc, work)


@router.get("/plans")
async def list_plans(who: Principal = Depends(platform_admin),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    data = await in_session(svc, lambda s: [tenants.plan_view(p) for p in tenants.list_plans(s)])
    return {"object": "list", "data": data}


@router.post("/plans", status_code=201)
async def create_plan(body: PlanCreate, who: Principal = Depends(platform_admin),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    return await in_session(svc, lambda s: tenants.plan_view(tenants.create_plan(
        s, body.id, body.name, body.limits, body.billing, by=who)))


@router.get("/plans/{plan_id}")
async def show_plan(plan_id: str, who: Principal = Depends(platform_admin),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    return await in_session(svc, lambda s: tenants.plan_view(tenants.get_plan(s, plan_id)))


@router.patch("/plans/{plan_id}")
async def update_plan(plan_id: str, body: PlanUpdate, who: Principal = Depends(platform_admin),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    view = await in_session(svc, lambda s: tenants.plan_view(tenants.update_plan(
        s, plan_id, name=body.name, limits=body.limits, billing=body.billing, by=who)))
    svc.principals.clear()
    return view
