"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's shape plus the library's facts."""

from __future__ import annotations

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
        "owned_by": "maas",
        "kind": record.kind, "family": record.family, "version": record.version,
        "industries": record.industries, "tags": record.tags, "languages": record.languages,
        "context_length": record.context_length,
        "dimensions": record.manifest.get("dimensions"),
        "pricing": record.pricing, "engine": record.engine,
        "status": record.status, "status_reason": record.status_reason,
    }


@router.get("/v1/models")
async def list_models(who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    cards = [model_card(r) for r in svc.registry.snapshot.values()
             if r.enabled and who.may_use_model(r.id, r.tags)]
    return {"object": "list", "data": sorted(cards, key=lambda c: c["id"])}


@router.get("/v1/models/{model_id}")
async def get_model(model_id: str, who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    record = svc.registry.snapshot.get(model_id)
    if record is None or not record.enabled or not who.may_use_model(record.id, record.tags):
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have "
                            "access to it.", param="model")
    return model_card(record)
