"""`/v1/knowledge_bases`: tenant knowledge bases, document upload and hybrid search.

An extension of the OpenAI surface in its style (objects with `object`, lists with
`data`, errors in OpenAI's envelope). Uploads are multipart (`file`), read in pieces
so an oversized file is refused without being held in memory.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import principal, services
from maas.api.uploads import read_limited
from maas.errors import InvalidRequest
from maas.knowledge.service import DEFAULT_EMBEDDING_MODEL, QueryMeter, document_view, kb_view
from maas.metering.charges import record_usage
from maas.metering.pricing import Price
from maas.services import Services
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/v1/knowledge_bases", tags=["knowledge"])
#: Search filter names (API) -> chunk fields.
FILTER_FIELDS = {"document_id": "doc_id", "document": "doc_name", "kind": "kind",
                 "page": "page", "section": "section"}


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    industry: str | None = Field(default=None, max_length=64)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=50)
    filters: dict[str, Any] | None = Field(
        default=None, description="Equality on document_id, document, kind, page (a value "
                                  "or a list); prefix on section.")


def _filters(filters: dict[str, Any] | None) -> dict[str, Any] | None:
    if not filters:
        return None
    unknown = sorted(set(filters) - set(FILTER_FIELDS))
    if unknown:
        raise InvalidRequest(f"unknown filter {unknown[0]!r}; one of "
                             f"{', '.join(FILTER_FIELDS)}", param="filters")
    return {FILTER_FIELDS[k]: v for k, v in filters.items()}


@router.post("", status_code=201)
async def create(body: KnowledgeBaseCreate, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    manifest = svc.registry.manifests.get(body.embedding_model)
    if manifest is None or manifest.kind != "embedding":
        raise InvalidRequest(f"{body.embedding_model!r} is not an embedding model of the "
                             "library", param="embedding_model")
    kb = await asyncio.to_thread(svc.knowledge.create, who, body.name, body.description,
                                 body.embedding_model, body.industry)
    return kb_view(kb)


@router.get("")
async def list_bases(who: Principal = Depends(principal), svc: Services = Depends(services)
                     ) -> dict[str, Any]:
    bases = await asyncio.to_thread(svc.knowledge.list, who)
    return {"object": "list", "data": [kb_view(kb) for kb in bases]}


@router.get("/{kb_id}")
async def show(kb_id: str, who: Principal = Depends(principal),
               svc: Services = Depends(services)) -> dict[str, Any]:
    return kb_view(await asyncio.to_thread(svc.knowledge.get, who, kb_id))


@router.delete("/{kb_id}")
async def delete(kb_id: str, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    await asyncio.to_thread(svc.knowledge.delete, who, kb_id)
    return {"id": kb_id, "object": "knowledge_base", "deleted": True}


@router.post("/{kb_id}/documents", status_code=201)
async def upload(kb_id: str, request: Request, file: UploadFile = File(...),
                 who: Principal = Depends(principal), svc: Services = Depends(services)
                 ) -> dict[str, Any]:
    limit = int(svc.settings.max_upload_mb * 1_000_000)
    await asyncio.to_thread(svc.knowledge.get, who, kb_id)  # 404 before reading the body
    data = await read_limited(file, limit)
    doc, tokens = await svc.knowledge.add_document(who, kb_id, file.filename or "", data)
    if svc.meter.enabled and tokens:
        await asyncio.to_thread(_meter_ingest, svc, who, doc.kb_id, tokens,
                                request.scope.get("state", {}).get("request_id"))
    return {**document_view(doc), "embedding_tokens": tokens}


def _meter_ingest(svc: Services, who: Principal, kb_id: str, tokens: int,
                  request_id: str | None) -> None:
    """The document's embeddings, metered and charged like an embeddings request."""
    model_id = svc.knowledge.get(who, kb_id).embedding_model
    manifest = svc.router.manifest(model_id)
    cost = Price.of(manifest.pricing).cost(tokens, 0)
    with svc.db.session(write=True) as session:
        record_usage(session, who, model_id, manifest.industries, "knowledge.ingest", cost,
                     prompt_tokens=tokens, request_id=request_id)


def meter_searches(svc: Services) -> QueryMeter:
    """A search's query embeddings, metered and charged like an embeddings request (the
    knowledge service calls this after embedding a search's query)."""
    async def meter(who: Principal, model_id: str, tokens: int) -> None:
        if svc.meter.enabled and tokens:
            await asyncio.to_thread(_record_search, svc, who, model_id, tokens)

    return meter


def _record_search(svc: Services, who: Principal, model_id: str, tokens: int) -> None:
    manifest = svc.router.manifest(model_id)
    with svc.db.session(write=True) as session:
        record_usage(session, who, model_id, manifest.industries, "knowledge.search",
                     Price.of(manifest.pricing).cost(tokens, 0), prompt_tokens=tokens)


@router.get("/{kb_id}/documents")
async def list_documents(kb_id: str, who: Principal = Depends(principal),
                         svc: Services = Depends(services)) -> dict[str, Any]:
    docs = await asyncio.to_thread(svc.knowledge.documents, who, kb_id)
    return {"object": "list", "data": [document_view(d) for d in docs]}


@router.get("/{kb_id}/documents/{doc_id}")
async def show_document(kb_id: str, doc_id: str, who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    return document_view(await asyncio.to_thread(svc.knowledge.document, who, kb_id, doc_id))


@router.delete("/{kb_id}/documents/{doc_id}")
async def delete_document(kb_id: str, doc_id: str, who: Principal = Depends(principal),
                          svc: Services = Depends(services)) -> dict[str, Any]:
    await svc.knowledge.delete_document(who, kb_id, doc_id)
    return {"id": doc_id, "object": "knowledge_document", "deleted": True}


@router.post("/{kb_id}/search")
async def search(kb_id: str, body: SearchRequest, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    hits = await svc.knowledge.search(who, [kb_id], body.query, body.top_k,
                                      _filters(body.filters))
    return {"object": "list", "data": hits}
