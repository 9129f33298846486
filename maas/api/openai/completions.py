"""`POST /v1/completions`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.api.deps import principal, services
from maas.api.openai.serving import Forwarder, route_for
from maas.protocol import CompletionRequest
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter()


@router.post("/v1/completions")
async def completions(
    body: CompletionRequest, request: Request,
    who: Principal = Depends(principal), svc: Services = Depends(services),
) -> Response:
    route = await route_for(svc, body.model, "completions")
    forwarder = Forwarder(svc, request, "completions", route)
    payload = body.model_dump(exclude_unset=True, exclude_none=True)
    if body.stream:
        return await forwarder.stream("/completions", payload, body.include_usage_in_stream())
    return await forwarder.json("/completions", payload)
