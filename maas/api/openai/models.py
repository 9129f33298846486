"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's shape plus the library's facts."""

from __future__ import annotations

import asyncio
import calendar
from typing import Any

from fastapi import APIRouter, Depends

from maas.api.deps import principal, services
from maas.db.tables import ModelRecord
from maas.errors import ModelNotFound
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter()


def model_card(record: ModelRecord) -> dict[str, Any]:
    return {
        "id": record.id, "object": "model",
        "created": calendar.timegm(record.updated_at.timetuple()),
        "owned_by": record.owner or "maas",
        "kind": record.kind, "family": record.family, "version": record.version,
        "industries": record.industries, "tags": record.tags, "languages": record.languages,
        "context_length": record.context_length,
        "dimensions": record.manifest.get("dimensions"),
        "pricing": record.pricing, "engine": record.engine,
        "status": record.status, "status_reason": record.status_reason,
    }


def app_card(app: dict[str, Any]) -> dict[str, Any]:
    """An app the caller may run, listed as a model (`app:<slug>`)."""
    return {
        "id": app["id"], "object": "model",
        "created": calendar.timegm(app["updated_at"].timetuple()),
        "owned_by": "maas" if app["owner"] == "platform" else app["owner"],
        "kind": "app", "app_kind": app["kind"], "title": app["title"],
        "industries": [app["industry"]], "base_model": app["model"],
        "pricing": app["pricing"], "version": app["version"],
    }


@router.get("/v1/models")
async def list_models(who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    cards = [model_card(r) for r in svc.registry.snapshot.values()
             if r.enabled and r.owner in (None, who.tenant_id) and who.may_use_model(r.id, r.tags)]
    apps = await asyncio.to_thread(svc.apps.subscriptions.usable_apps, who)
    cards += [app_card(a) for a in apps]
    return {"object": "list", "data": sorted(cards, key=lambda c: c["id"])}


@router.get("/v1/models/{model_id}")
async def get_model(model_id: str, who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    if model_id.startswith("app:"):
        apps = await asyncio.to_thread(svc.apps.subscriptions.usable_apps, who)
        for app in apps:
            if app["id"] == model_id:
                return app_card(app)
    record = svc.registry.snapshot.get(model_id)
    if (record is None or not record.enabled or record.owner not in (None, who.tenant_id)
            or not who.may_use_model(record.id, record.tags)):
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have "
                            "access to it.", param="model")
    return model_card(record)
