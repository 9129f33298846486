"""`/admin/v1/apps`: the review queue for tenants' apps submitted for listing."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import platform_admin, services
from maas.services import Services
from maas.store.catalog import app_view
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/admin/v1/apps", tags=["admin"])


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


@router.get("/reviews")
async def review_queue(who: Principal = Depends(platform_admin),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    return {"object": "list",
            "data": await asyncio.to_thread(svc.apps.authoring.review_queue, who)}


@router.post("/{slug}/approve")
async def approve(slug: str, body: Review | None = None,
                  who: Principal = Depends(platform_admin),
                  svc: Services = Depends(services)) -> dict[str, Any]:
    app = await asyncio.to_thread(svc.apps.authoring.review, who, slug, True,
                                  body.reason if body else None)
    return app_view(app)


@router.post("/{slug}/reject")
async def reject(slug: str, body: Review, who: Principal = Depends(platform_admin),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    app = await asyncio.to_thread(svc.apps.authoring.review, who, slug, False, body.reason)
    return app_view(app)
