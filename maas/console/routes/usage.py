"""Usage records with filters, and their CSV export (the API's own CSV)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.web import Page, signed_in

router = APIRouter(prefix="/console/usage", include_in_schema=False)


def _filters(since: str, until: str, model: str, key_id: str) -> dict[str, str]:
    return {"since": f"{since}T00:00:00Z" if since else "",
            "until": f"{until}T23:59:59Z" if until else "", "model": model, "key_id": key_id}


@router.get("")
async def usage(since: str = "", until: str = "", model: str = "", key_id: str = "",
                page: Page = Depends(signed_in)) -> Response:
    filters = _filters(since, until, model, key_id)
    rows = (await page.api.get(page.manage("/usage"), limit=200, **filters))["data"]
    totals = (await page.api.get(page.manage("/usage/report"), group_by="model",
                                 **filters))["data"]
    models = sorted({m["id"] for m in (await page.api.get("/v1/models"))["data"]})
    return page.render("usage.html", rows=rows, totals=totals, models=models,
                       f={"since": since, "until": until, "model": model, "key_id": key_id})


@router.get("/export.csv")
async def export(since: str = "", until: str = "", model: str = "", key_id: str = "",
                 page: Page = Depends(signed_in)) -> Response:
    answer = await page.api.call("GET", page.manage("/usage/export.csv"),
                                 params=_filters(since, until, model, key_id))
    if answer.status_code >= 400:
        raise ApiError(answer.status_code, answer.text[:300])
    return Response(answer.content, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": answer.headers["content-disposition"]})
