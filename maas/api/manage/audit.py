"""`/api/v1/tenants/{tenant_id}/audit`: the tenant's audit log, for its admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from maas.api.deps import in_session, principal, services
from maas.services import Services
from maas.tenancy import audit
from maas.tenancy.principal import TENANT_ADMIN, Principal, require_tenant

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}/audit", tags=["audit"])


@router.get("")
async def list_events(tenant_id: str, action: str | None = None,
                      since: datetime | None = None, until: datetime | None = None,
                      before_id: int | None = None,
                      limit: int = Query(default=100, ge=1, le=1000),
                      who: Principal = Depends(principal), svc: Services = Depends(services)
                      ) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)
    data = await in_session(svc, lambda s: [audit.event_view(e) for e in audit.list_events(
        s, tenant_id, action=action, since=since, until=until, limit=limit,
        before_id=before_id)])
    return {"object": "list", "data": data}


@router.get("/{event_id}")
async def show_event(tenant_id: str, event_id: int, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)
    return await in_session(svc, lambda s: audit.event_view(audit.get_event(s, tenant_id,
                                                                            event_id)))
