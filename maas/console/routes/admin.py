"""Platform admin: tenants and plans, voucher batches, app review queue, models on/off.

The admin API refuses anyone but a platform admin (403); the console shows that refusal
as its error page, so it needs no check of its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.web import Page, form, redirect, signed_in

router = APIRouter(prefix="/console/admin", include_in_schema=False)


async def _page(page: Page, issued: dict[str, Any] | None = None, status: int = 200
                ) -> Response:
    tenants = (await page.api.get("/admin/v1/tenants"))["data"]
    plans = (await page.api.get("/admin/v1/plans"))["data"]
    batches = (await page.api.get("/admin/v1/voucher-batches"))["data"]
    reviews = (await page.api.get("/admin/v1/apps/reviews"))["data"]
    models = (await page.api.get("/admin/v1/models"))["data"]
    return page.render("admin.html", status=status, tenants=tenants, plans=plans,
                       batches=batches, reviews=reviews, models=models, issued=issued)


@router.get("")
async def admin(page: Page = Depends(signed_in)) -> Response:
    return await _page(page)


def _optional_int(value: Any) -> int | None:
    return int(value) if str(value or "").strip() else None


@router.post("/{action}")
async def act(action: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    """One admin change; the API's answer (or its error) is shown on the admin page."""
    data = await form(request)
    target = quote(str(data.get("target", "")), safe="")
    try:
        if action == "tenant":
            await page.api.send("POST", "/admin/v1/tenants", json={
                "id": data.get("id", ""), "name": data.get("name", ""),
                "plan": data.get("plan", "free"),
                "owner_email": data.get("owner_email") or None})
        elif action == "tenant-state":
            await page.api.send("PATCH", f"/admin/v1/tenants/{target}",
                                json={"disabled": data.get("disabled") == "1"})
        elif action == "plan":
            limits = {k: _optional_int(data.get(k)) for k in
                      ("requests_per_minute", "tokens_per_minute", "monthly_tokens")}
            await page.api.send("POST", "/admin/v1/plans", json={
                "id": data.get("id", ""), "name": data.get("name", ""),
                "billing": data.get("billing", "prepaid"),
                "limits": {k: v for k, v in limits.items() if v is not None}})
        elif action == "vouchers":
            issued = await page.api.send("POST", "/admin/v1/voucher-batches", json={
                "name": data.get("name", ""), "issuer": data.get("issuer", ""),
                "amount": float(data.get("amount") or 0), "count": int(data.get("count") or 0)})
            return await _page(page, issued, status=201)
        elif action == "revoke-batch":
            await page.api.send("POST", f"/admin/v1/voucher-batches/{target}/revoke")
        elif action in ("approve", "reject"):
            await page.api.send("POST", f"/admin/v1/apps/{target}/{action}",
                                json={"reason": data.get("reason") or None})
        elif action in ("enable", "disable"):
            await page.api.send("POST", f"/admin/v1/models/{target}/{action}")
        else:
            raise ApiError(404, f"unknown admin action {action!r}")
    except ApiError as exc:
        if exc.status in (403, 404) and action not in ("tenant", "plan"):
            raise
        return redirect("/console/admin", exc.message, error=True)
    except ValueError:
        return redirect("/console/admin", "amount and count must be numbers", error=True)
    return redirect("/console/admin", "saved")
