"""API keys: create (the secret is shown once), revoke, rotate."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.web import Page, form, redirect, signed_in

router = APIRouter(prefix="/console/keys", include_in_schema=False)
ROLES = ("member", "tenant_admin", "tenant_owner")


async def _page(page: Page, created: dict | None = None, status: int = 200) -> Response:
    keys = (await page.api.get(page.manage("/keys")))["data"]
    models = [m["id"] for m in (await page.api.get("/v1/models"))["data"]]
    return page.render("keys.html", status=status, keys=keys, created=created, roles=ROLES,
                       models=models)


@router.get("")
async def keys(page: Page = Depends(signed_in)) -> Response:
    return await _page(page)


@router.post("")
async def create(request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    data = await request.form()
    body: dict = {"name": str(data.get("name", "")).strip(), "role": data.get("role", "member")}
    allowed = [str(m) for m in data.getlist("allowed_models") if m]
    if allowed:
        body["allowed_models"] = allowed
    if data.get("expires_at"):
        body["expires_at"] = f"{data['expires_at']}T23:59:59Z"
    try:
        created = await page.api.send("POST", page.manage("/keys"), json=body)
    except ApiError as exc:
        return redirect("/console/keys", exc.message, error=True)
    return await _page(page, created, status=201)


@router.post("/{key_id}/revoke")
async def revoke(key_id: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    await page.api.send("DELETE", page.manage(f"/keys/{quote(key_id, safe='')}"))
    return redirect("/console/keys", "revoked")


@router.post("/{key_id}/rotate")
async def rotate(key_id: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    grace = int(data.get("grace_seconds") or 3600)
    created = await page.api.send("POST", page.manage(f"/keys/{quote(key_id, safe='')}/rotate"),
                                  json={"grace_seconds": grace})
    return await _page(page, created, status=201)
