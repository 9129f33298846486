"""`/api/v1/tenants/{tenant_id}/keys`: create (secret shown once), list, show, update,
rotate, revoke. Members manage their own keys, admins every key of the tenant."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import in_session, principal, services
from maas.limits.policy import Limits
from maas.services import Services
from maas.tenancy import keys
from maas.tenancy.principal import MEMBER, Principal, require_tenant

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}/keys", tags=["keys"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: str = MEMBER
    allowed_models: list[str] | None = None
    allowed_apps: list[str] | None = None
    limits: Limits | None = None
    expires_at: datetime | None = None


class KeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: str | None = None
    allowed_models: list[str] | None = None
    allowed_apps: list[str] | None = None
    limits: Limits | None = None
    expires_at: datetime | None = None


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(default=int(keys.DEFAULT_ROTATION_GRACE.total_seconds()),
                               ge=0, le=int(keys.MAX_ROTATION_GRACE.total_seconds()))


@router.post("", status_code=201)
async def create_key(tenant_id: str, body: KeyCreate, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)

    def work(session: Any) -> dict[str, Any]:
        created = keys.create_key(session, tenant_id, body.name, body.role, by=who,
                                  allowed_models=body.allowed_models,
                                  allowed_apps=body.allowed_apps, limits=body.limits,
                                  expires_at=body.expires_at)
        return {**keys.key_view(created.record), "key": created.secret}

    return await in_session(svc, work)


@router.get("")
async def list_keys(tenant_id: str, include_revoked: bool = True,
                    who: Principal = Depends(principal), svc: Services = Depends(services)
                    ) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    data = await in_session(svc, lambda s: [keys.key_view(k) for k in keys.list_keys(
        s, tenant_id, who, include_revoked)])
    return {"object": "list", "data": data}


@router.get("/{key_id}")
async def show_key(tenant_id: str, key_id: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    return await in_session(svc, lambda s: keys.key_view(keys.get_key(s, tenant_id, key_id,
                                                                      who)))


@router.patch("/{key_id}")
async def update_key(tenant_id: str, key_id: str, body: KeyUpdate,
                     who: Principal = Depends(principal), svc: Services = Depends(services)
                     ) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    fields = body.model_dump(exclude_unset=True)
    if "limits" in fields:
        fields["limits"] = body.limits or Limits()

    view = await in_session(svc, lambda s: keys.key_view(keys.update_key(
        s, tenant_id, key_id, by=who, **fields)))
    svc.principals.evict_key(key_id)
    return view


@router.post("/{key_id}/rotate", status_code=201)
async def rotate_key(tenant_id: str, key_id: str, body: KeyRotate | None = None,
                     who: Principal = Depends(principal), svc: Services = Depends(services)
                     ) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    grace = timedelta(seconds=(body or KeyRotate()).grace_seconds)

    def work(session: Any) -> dict[str, Any]:
        created = keys.rotate_key(session, tenant_id, key_id, by=who, grace=grace)
        old = keys.get_key(session, tenant_id, key_id)
        return {**keys.key_view(created.record), "key": created.secret,
                "replaces": key_id, "old_key_valid_until": old.expires_at}

    view = await in_session(svc, work)
    svc.principals.evict_key(key_id)
    return view


@router.delete("/{key_id}")
async def revoke_key(tenant_id: str, key_id: str, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    view = await in_session(svc, lambda s: keys.key_view(keys.revoke_key(s, tenant_id, key_id,
                                                                         who)))
    svc.principals.evict_key(key_id)
    return view
