"""Credits (balance, voucher redemption, ledger), members and roles, the audit log."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.web import Page, form, redirect, signed_in

router = APIRouter(prefix="/console", include_in_schema=False)
ROLES = ("member", "tenant_admin", "tenant_owner")


async def _optional(page: Page, path: str) -> list | None:
    """A list the caller's role may not see (403): None, and the page says why."""
    try:
        return (await page.api.get(path))["data"]
    except ApiError as exc:
        if exc.status == 403:
            return None
        raise


@router.get("/credits")
async def credits(page: Page = Depends(signed_in)) -> Response:
    balance = await page.api.get(page.manage("/credits"))
    ledger = await _optional(page, page.manage("/credits/ledger"))
    return page.render("credits.html", balance=balance, ledger=ledger)


@router.post("/credits/redeem")
async def redeem(request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    try:
        await page.api.send("POST", page.manage("/credits/redeem"),
                            json={"code": str(data.get("code", "")).strip()})
    except ApiError as exc:
        return redirect("/console/credits", exc.message, error=True)
    return redirect("/console/credits", "redeemed")


@router.get("/members")
async def members(page: Page = Depends(signed_in)) -> Response:
    data = await _optional(page, page.manage("/members"))
    return page.render("members.html", members=data, roles=ROLES)


@router.post("/members")
async def add_member(request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    try:
        await page.api.send("POST", page.manage("/members"), json={
            "email": str(data.get("email", "")).strip(), "role": data.get("role", "member")})
    except ApiError as exc:
        return redirect("/console/members", exc.message, error=True)
    return redirect("/console/members", "saved")


@router.post("/members/{user_id}/role")
async def set_role(user_id: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    try:
        await page.api.send("PATCH", page.manage(f"/members/{quote(user_id, safe='')}"),
                            json={"role": data.get("role", "member")})
    except ApiError as exc:
        if exc.status == 404:
            raise
        return redirect("/console/members", exc.message, error=True)
    return redirect("/console/members", "saved")


@router.post("/members/{user_id}/remove")
async def remove(user_id: str, request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    try:
        await page.api.send("DELETE", page.manage(f"/members/{quote(user_id, safe='')}"))
    except ApiError as exc:
        if exc.status == 404:
            raise
        return redirect("/console/members", exc.message, error=True)
    return redirect("/console/members", "removed")


@router.get("/audit")
async def audit(action: str = "", page: Page = Depends(signed_in)) -> Response:
    path = page.manage("/audit") + (f"?action={quote(action)}" if action else "")
    events = await _optional(page, path)
    return page.render("audit.html", events=events, action=action)
