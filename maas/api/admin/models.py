"""`/admin/v1/models`: the full registry (including disabled and unavailable models)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends

from maas.api.deps import platform_admin, services
from maas.api.openai.models import model_card
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/admin/v1/models", tags=["admin"])


def admin_card(svc: Services, model_id: str) -> dict[str, Any]:
    record = svc.registry.get(model_id)
    return {**model_card(record), "enabled": record.enabled, "endpoint": record.endpoint,
            "manifest": record.manifest}


@router.get("")
async def list_models(who: Principal = Depends(platform_admin),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    records = await asyncio.to_thread(svc.registry.list)
    return {"object": "list",
            "data": [{**model_card(r), "enabled": r.enabled} for r in records]}


@router.get("/{model_id}")
async def show_model(model_id: str, who: Principal = Depends(platform_admin),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    return await asyncio.to_thread(admin_card, svc, model_id)


async def _switch(svc: Services, model_id: str, enabled: bool) -> dict[str, Any]:
    await asyncio.to_thread(svc.registry.set_enabled, model_id, enabled)
    await svc.supervisor.reconcile()  # start or stop the worker now, not at the next pass
    return await asyncio.to_thread(admin_card, svc, model_id)


@router.post("/{model_id}/enable")
async def enable_model(model_id: str, who: Principal = Depends(platform_admin),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    return await _switch(svc, model_id, True)


@router.post("/{model_id}/disable")
async def disable_model(model_id: str, who: Principal = Depends(platform_admin),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    return await _switch(svc, model_id, False)
