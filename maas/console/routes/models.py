"""Model library: browse and filter by industry and kind, details, "try it"."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from maas.console.web import Page, signed_in

router = APIRouter(prefix="/console/models", include_in_schema=False)


@router.get("")
async def library(industry: str = "", kind: str = "", q: str = "",
                  page: Page = Depends(signed_in)) -> Response:
    cards = (await page.api.get("/v1/models"))["data"]
    industries = sorted({i for c in cards for i in (c.get("industries") or []) if i})
    kinds = sorted({c["kind"] for c in cards})
    shown = [c for c in cards
             if (not industry or industry in (c.get("industries") or []))
             and (not kind or c["kind"] == kind)
             and (not q or q.lower() in (c["id"] + str(c.get("title", ""))).lower())]
    return page.render("models.html", models=shown, industries=industries, kinds=kinds,
                       industry=industry, kind=kind, q=q, total=len(cards))


@router.get("/{model_id:path}")
async def detail(model_id: str, page: Page = Depends(signed_in)) -> Response:
    card = await page.api.get(f"/v1/models/{quote(model_id, safe=':')}")
    return page.render("model.html", model=card)
