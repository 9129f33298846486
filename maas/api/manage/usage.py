"""`/api/v1/tenants/{tenant_id}/usage`: records, aggregated reports and CSV export.

Tenant admins see the whole tenant; members see only their own requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from maas.api.deps import in_session, principal, services
from maas.metering import usage
from maas.services import Services
from maas.tenancy.principal import TENANT_ADMIN, Principal, require_tenant

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}/usage", tags=["usage"])

REPORT_FIELDS = ("requests", "prompt_tokens", "completion_tokens", "total_tokens", "cost",
                 "errors", "avg_latency_ms")


def _own_only(who: Principal, key_id: str | None) -> dict[str, str | None]:
    """Members are narrowed to their own user (or, for a bare key, that key)."""
    if who.is_platform_admin or who.outranks_or_equals(TENANT_ADMIN):
        return {"key_id": key_id}
    if who.user_id:
        return {"key_id": key_id, "user_id": who.user_id}
    return {"key_id": who.key_id}


def _csv(text: str, name: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("")
async def list_usage(tenant_id: str, since: datetime | None = None,
                     until: datetime | None = None, model: str | None = None,
                     key_id: str | None = None, app: str | None = None,
                     limit: int = Query(default=100, ge=1, le=1000),
                     offset: int = Query(default=0, ge=0),
                     who: Principal = Depends(principal), svc: Services = Depends(services)
                     ) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    scope = _own_only(who, key_id)
    data = await in_session(svc, lambda s: [usage.usage_view(r) for r in usage.list_usage(
        s, tenant_id, since=since, until=until, model=model, app_id=app, limit=limit,
        offset=offset, **scope)])
    return {"object": "list", "data": data}


@router.get("/report")
async def report(tenant_id: str, group_by: str = "day,model", since: datetime | None = None,
                 until: datetime | None = None, model: str | None = None,
                 key_id: str | None = None, app: str | None = None,
                 format: str = Query(default="json", pattern="^(json|csv)$"),
                 who: Principal = Depends(principal), svc: Services = Depends(services)
                 ) -> Any:
    require_tenant(who, tenant_id)
    groups = [g.strip() for g in group_by.split(",") if g.strip()]
    scope = _own_only(who, key_id)
    rows = await in_session(svc, lambda s: usage.report(
        s, tenant_id, groups, since=since, until=until, model=model, app_id=app, **scope))
    if format == "csv":
        return _csv(usage.to_csv(rows, [*groups, *REPORT_FIELDS]), f"usage-{tenant_id}.csv")
    return {"object": "usage_report", "group_by": groups, "data": rows}


@router.get("/export.csv")
async def export(tenant_id: str, since: datetime | None = None,
                 until: datetime | None = None, model: str | None = None,
                 key_id: str | None = None, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> Response:
    require_tenant(who, tenant_id)
    scope = _own_only(who, key_id)
    rows = await in_session(svc, lambda s: [usage.usage_view(r) for r in usage.list_usage(
        s, tenant_id, since=since, until=until, model=model, limit=usage.MAX_ROWS, **scope)])
    return _csv(usage.to_csv(rows, usage.USAGE_FIELDS), f"usage-{tenant_id}-records.csv")


@router.get("/{usage_id}")
async def show_usage(tenant_id: str, usage_id: str, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    scope = _own_only(who, None)
    return await in_session(svc, lambda s: usage.usage_view(usage.get_usage(
        s, tenant_id, usage_id, **scope)))
