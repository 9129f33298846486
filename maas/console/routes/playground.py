"""Playground: chat with a model or a subscribed app; the browser streams from /v1 itself."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from maas.console.web import Page, signed_in

router = APIRouter(prefix="/console/playground", include_in_schema=False)


@router.get("")
async def playground(model: str = "", page: Page = Depends(signed_in)) -> Response:
    cards = (await page.api.get("/v1/models"))["data"]
    chat = [c for c in cards if c["kind"] in ("chat", "app") and c.get("app_kind") != "form"]
    bases = (await page.api.get("/v1/knowledge_bases"))["data"]
    ready = [c for c in chat if c["kind"] == "app" or c.get("status") == "ready"]
    fallback = (ready or chat or [{"id": ""}])[0]["id"]
    chosen = model if any(c["id"] == model for c in chat) else fallback
    return page.render("playground.html", models=chat, chosen=chosen, bases=bases)
