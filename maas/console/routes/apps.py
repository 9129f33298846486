"""App store: browse by industry, details, subscribe/unsubscribe, run form-style apps."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from maas.console.client import ApiError
from maas.console.web import Page, form, redirect, signed_in

router = APIRouter(prefix="/console/apps", include_in_schema=False)


def _app(slug: str) -> str:
    return f"/v1/apps/{quote(slug, safe='')}"


@router.get("")
async def store(industry: str = "", q: str = "", page: Page = Depends(signed_in)) -> Response:
    every = (await page.api.get("/v1/apps"))["data"]
    shown = (await page.api.get("/v1/apps", industry=industry or None, q=q[:100] or None))["data"]
    industries = sorted({a["industry"] for a in every if a.get("industry")})
    return page.render("apps.html", apps=shown, industries=industries, industry=industry, q=q)


async def _detail_page(page: Page, slug: str, run: dict[str, Any] | None = None,
                       values: dict[str, Any] | None = None, error: str | None = None,
                       status: int = 200) -> Response:
    app = await page.api.get(_app(slug))
    runs = []
    if app["subscribed"]:
        runs = (await page.api.get(_app(slug) + "/runs", limit=10))["data"]
    return page.render("app.html", status=status, app=app, run=run, runs=runs,
                       values=values or {}, error=error)


@router.get("/{slug}")
async def detail(slug: str, page: Page = Depends(signed_in)) -> Response:
    return await _detail_page(page, slug)


@router.post("/{slug}/subscribe")
async def subscribe(slug: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    try:
        await page.api.send("POST", _app(slug) + "/subscription", json={})
    except ApiError as exc:
        if exc.status == 404:
            raise
        return redirect(f"/console/apps/{quote(slug)}", exc.message, error=True)
    return redirect(f"/console/apps/{quote(slug)}", "subscribed")


@router.post("/{slug}/unsubscribe")
async def unsubscribe(slug: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    await page.api.send("DELETE", _app(slug) + "/subscription")
    return redirect(f"/console/apps/{quote(slug)}", "unsubscribed")


def _inputs(fields: list[dict[str, Any]], data: FormData) -> dict[str, Any]:
    """Form strings to the typed inputs the API checks (its errors are shown as they are)."""
    inputs: dict[str, Any] = {}
    for field in fields:
        name, kind = field["name"], field["type"]
        if kind == "boolean":
            inputs[name] = data.get(name) == "on"
            continue
        if kind == "multi":
            inputs[name] = data.getlist(name)
            continue
        raw = str(data.get(name) or "").strip()
        if raw == "":
            continue
        try:
            inputs[name] = int(raw) if kind == "integer" else float(raw) if kind == "number" \
                else raw
        except ValueError:
            inputs[name] = raw  # the API answers with the field's error
    return inputs


@router.post("/{slug}/run")
async def run(slug: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    data = await request.form()
    app = await page.api.get(_app(slug))
    inputs = _inputs(app.get("input_form") or [], data)
    try:
        result = await page.api.send("POST", _app(slug) + "/runs", json={"inputs": inputs})
    except ApiError as exc:
        if exc.status == 404:
            raise
        return await _detail_page(page, slug, values=inputs, error=exc.message,
                                  status=exc.status)
    return await _detail_page(page, slug, run=result, values=inputs)


@router.get("/{slug}/runs/{run_id}/document")
async def document(slug: str, run_id: str, format: str = "md",
                   page: Page = Depends(signed_in)) -> Response:
    """A document app's report as a download (the API's file, fetched with the session)."""
    answer = await page.api.call("GET", f"{_app(slug)}/runs/{quote(run_id, safe='')}/document",
                                 params={"format": format})
    if answer.status_code >= 400:
        raise ApiError(answer.status_code, answer.text[:300])
    return Response(answer.content, media_type=answer.headers.get("content-type"),
                    headers={"content-disposition": answer.headers.get("content-disposition",
                                                                         "attachment")})
