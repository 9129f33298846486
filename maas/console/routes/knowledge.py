"""Knowledge bases: create, upload (with progress, from the browser), documents, search."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.web import Page, form, redirect, signed_in

router = APIRouter(prefix="/console/knowledge", include_in_schema=False)


def _kb(kb_id: str) -> str:
    return f"/v1/knowledge_bases/{quote(kb_id, safe='')}"


@router.get("")
async def bases(page: Page = Depends(signed_in)) -> Response:
    data = (await page.api.get("/v1/knowledge_bases"))["data"]
    embedders = [m for m in (await page.api.get("/v1/models"))["data"]
                 if m["kind"] == "embedding"]
    return page.render("knowledge.html", bases=data, embedders=embedders)


@router.post("")
async def create(request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    body = {"name": data.get("name", ""), "description": data.get("description", "")}
    if data.get("embedding_model"):
        body["embedding_model"] = data["embedding_model"]
    try:
        kb = await page.api.send("POST", "/v1/knowledge_bases", json=body)
    except ApiError as exc:
        return redirect("/console/knowledge", exc.message, error=True)
    return redirect(f"/console/knowledge/{quote(kb['id'], safe='')}", "created")


@router.get("/{kb_id}")
async def detail(kb_id: str, q: str = "", page: Page = Depends(signed_in)) -> Response:
    kb = await page.api.get(_kb(kb_id))
    docs = (await page.api.get(_kb(kb_id) + "/documents"))["data"]
    hits = None
    if q:
        hits = (await page.api.post(_kb(kb_id) + "/search", {"query": q[:4000], "top_k": 5}))[
            "data"]
    return page.render("knowledge_base.html", kb=kb, docs=docs, q=q, hits=hits)


@router.post("/{kb_id}/delete")
async def delete(kb_id: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    await page.api.send("DELETE", _kb(kb_id))
    return redirect("/console/knowledge", "deleted")


@router.post("/{kb_id}/documents/{doc_id}/delete")
async def delete_document(kb_id: str, doc_id: str, request: Request,
                          page: Page = Depends(signed_in)) -> Response:
    await form(request)
    await page.api.send("DELETE", f"{_kb(kb_id)}/documents/{quote(doc_id, safe='')}")
    return redirect(f"/console/knowledge/{quote(kb_id, safe='')}", "deleted")
