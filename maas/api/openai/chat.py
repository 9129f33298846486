"""`POST /v1/chat/completions`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.api.deps import principal, services
from maas.api.openai.app_runs import APP_PREFIX, app_chat
from maas.api.openai.serving import forward
from maas.protocol import ChatCompletionRequest
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter()


@router.post("/v1/chat/completions")
async def chat_completions(
    body: ChatCompletionRequest, request: Request,
    who: Principal = Depends(principal), svc: Services = Depends(services),
) -> Response:
    if body.model.startswith(APP_PREFIX):
        payload = body.model_dump(exclude_unset=True, exclude_none=True)
        return await app_chat(svc, request, payload, who, bool(body.stream),
                              body.include_usage_in_stream())
    return await forward(svc, request, "chat.completions", body, who)
