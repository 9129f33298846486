"""Sign in and out, the tenant switcher and the language switch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.i18n import LANGUAGES
from maas.console.security import LANG_COOKIE, clear_session, session_token, set_session
from maas.console.web import Page, anonymous_page, back, form, redirect, signed_in
from maas.errors import NotFound
from maas.tenancy import users
from maas.tenancy.users import authenticate_session

router = APIRouter(prefix="/console", include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if value and value.startswith("/console") and not value.startswith("//"):
        return value
    return "/console"


@router.get("/login")
async def login_page(request: Request, next: str | None = None,
                     page: Page = Depends(anonymous_page)) -> Response:
    return page.render("login.html", next=_safe_next(next), error=None, email="")


@router.post("/login")
async def login(request: Request, page: Page = Depends(anonymous_page)) -> Response:
    data = await form(request)
    email, target = str(data.get("email", "")), _safe_next(str(data.get("next", "")))
    try:
        signed = await page.api.post("/api/v1/auth/login",
                                     {"email": email, "password": str(data.get("password", ""))})
    except ApiError as exc:
        return page.render("login.html", status=exc.status, next=target, error=exc.message,
                           email=email)
    expires = datetime.fromisoformat(str(signed["expires_at"]))
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    response = redirect(target)
    set_session(request, response, signed["token"],
                max(60, int((expires - datetime.now(UTC)).total_seconds())))
    return response


@router.post("/logout")
async def logout(request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    await page.api.post("/api/v1/auth/logout")
    response = redirect("/console/login")
    clear_session(response)
    return response


@router.post("/tenant")
async def switch(request: Request, page: Page = Depends(signed_in)) -> Response:
    """Reopen the session in another tenant of the same user."""
    data = await form(request)
    tenant_id, token = str(data.get("tenant_id", "")), session_token(request) or ""
    svc = request.app.state.services

    def work() -> str:
        with svc.db.session(write=True) as session:
            who = authenticate_session(session, token)
            if who is None:
                raise NotFound("session not found")
            return users.switch_tenant(session, who, token, tenant_id)

    try:
        fresh = await asyncio.to_thread(work)
    except NotFound as exc:
        raise ApiError(404, exc.message) from None
    svc.principals.clear()  # the old session's cached principal must not outlive it
    response = redirect("/console")
    set_session(request, response, fresh, 12 * 3600)
    return response


@router.post("/lang")
async def set_language(request: Request) -> Response:
    data = await form(request)
    lang = str(data.get("lang", "en"))
    response = redirect(back(request, "/console"))
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax",
                            httponly=True, path="/")
    return response
