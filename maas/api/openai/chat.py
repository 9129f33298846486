"""`POST /v1/chat/completions`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.api.deps import principal, services
from maas.api.openai.serving import Forwarder, route_for
from maas.protocol import ChatCompletionRequest
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter()


@router.post("/v1/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, request: Request,
    who: Principal = Depends(principal), svc: Services = Depends(services),
) -> Response:
    route = await route_for(svc, body.model, "chat.completions")
    forwarder = Forwarder(svc, request, "chat.completions", route)
    payload = body.model_dump(exclude_unset=True, exclude_none=True)
    if body.stream:
        return await forwarder.stream("/chat/completions", payload, body.include_usage_in_stream())
    return await forwarder.json("/chat/completions", payload)
