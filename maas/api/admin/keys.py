"""`/admin/v1/tenants/{tenant}/keys`: create (secret shown once), list, revoke."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from maas.api.deps import platform_admin, services
from maas.db.tables import ApiKey
from maas.services import Services
from maas.tenancy import keys
from maas.tenancy.principal import MEMBER, Principal

router = APIRouter(prefix="/admin/v1/tenants/{tenant_id}/keys", tags=["admin"])


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = MEMBER


def key_view(record: ApiKey) -> dict[str, Any]:
    return {"id": record.id, "tenant_id": record.tenant_id, "name": record.name,
            "prefix": record.prefix, "role": record.role, "created_at": record.created_at,
            "last_used_at": record.last_used_at, "revoked_at": record.revoked_at}


@router.post("", status_code=201)
async def create_key(tenant_id: str, body: KeyCreate, who: Principal = Depends(platform_admin),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with svc.db.session() as session:
            created = keys.create_key(session, tenant_id, body.name, body.role)
            return {**key_view(created.record), "key": created.secret}

    return await asyncio.to_thread(run)


@router.get("")
async def list_keys(tenant_id: str, who: Principal = Depends(platform_admin),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    def run() -> list[dict[str, Any]]:
        with svc.db.session() as session:
            return [key_view(k) for k in keys.list_keys(session, tenant_id)]

    return {"object": "list", "data": await asyncio.to_thread(run)}


@router.delete("/{key_id}")
async def revoke_key(tenant_id: str, key_id: str, who: Principal = Depends(platform_admin),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with svc.db.session() as session:
            return key_view(keys.revoke_key(session, tenant_id, key_id))

    view = await asyncio.to_thread(run)
    svc.principals.evict_key(key_id)
    return view
