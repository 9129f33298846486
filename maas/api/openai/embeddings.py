"""`POST /v1/embeddings`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.api.deps import principal, services
from maas.api.openai.serving import forward
from maas.protocol import EmbeddingRequest
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter()


@router.post("/v1/embeddings")
async def embeddings(
    body: EmbeddingRequest, request: Request,
    who: Principal = Depends(principal), svc: Services = Depends(services),
) -> Response:
    return await forward(svc, request, "embeddings", body, who)
