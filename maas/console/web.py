"""Per-request page context, rendering and form checks shared by every console route."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from maas.console.client import ApiClient, ApiError
from maas.console.i18n import Catalogue, localise, pick_language
from maas.console.security import (
    CSRF_FIELD,
    LANG_COOKIE,
    attach_presession,
    csrf_ok,
    csrf_token,
    session_token,
)

FLASH_COOKIE = "maas_flash"
HERE = Path(__file__).parent


class NeedsSignIn(Exception):
    """No valid session: the handler sends the browser to the sign-in page."""

    def __init__(self, next_path: str = "/console") -> None:
        self.next_path = next_path


class CsrfFailed(Exception):
    """A state-changing form without the page's CSRF token."""


@dataclass
class Console:
    """What mount() builds once per app: the template environment and the messages."""

    templates: Environment
    catalogue: Catalogue

    @classmethod
    def build(cls) -> Console:
        env = Environment(loader=FileSystemLoader(HERE / "templates"),
                          autoescape=select_autoescape(["html"], default=True),
                          trim_blocks=True, lstrip_blocks=True)
        env.filters["when"] = _when
        env.filters["num"] = _num
        env.filters["money"] = lambda v: f"{float(v or 0):,.4f}".rstrip("0").rstrip(".")
        env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)
        env.filters["urlq"] = lambda v: quote(str(v), safe="")
        return cls(env, Catalogue(HERE / "messages"))


def _when(value: Any) -> str:
    if not value:
        return "—"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("T", " ")[:16]


def _num(value: Any) -> str:
    if value is None:
        return "—"
    number = float(value)
    return f"{int(number):,}" if number.is_integer() else f"{number:,.2f}"


@dataclass
class Page:
    """One console request: who is signed in, in which tenant and language."""

    request: Request
    api: ApiClient
    lang: str
    me: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        return self.me["tenant"]["id"]

    @property
    def role(self) -> str:
        return self.me.get("role", "")

    @property
    def is_admin(self) -> bool:
        return self.role in ("platform_admin", "tenant_owner", "tenant_admin")

    def manage(self, path: str = "") -> str:
        """A path of the management API under the current tenant."""
        return f"/api/v1/tenants/{quote(self.tenant_id, safe='')}{path}"

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        console: Console = self.request.app.state.console
        t = console.catalogue.translator(self.lang)
        flash = self.request.cookies.get(FLASH_COOKIE)
        html = console.templates.get_template(template).render(
            request=self.request, me=self.me, lang=self.lang, t=t, page=self,
            csrf=csrf_token(self.request), csrf_field=Markup(
                f'<input type="hidden" name="{CSRF_FIELD}" value="{csrf_token(self.request)}">'),
            loc=lambda v: localise(v, self.lang), flash=_read_flash(flash, t),
            path=self.request.url.path, **context)
        response = HTMLResponse(html, status_code=status)
        attach_presession(self.request, response)
        if flash:
            response.delete_cookie(FLASH_COOKIE, path="/console")
        return response


def _read_flash(raw: str | None, t: Any) -> dict[str, str] | None:
    """The one-shot message: a success is a `flash.*` message key, shown in the page's
    language; an error is the API's own message, shown as it is."""
    if not raw:
        return None
    try:
        kind, _, text = json.loads(raw).partition(":")
    except (ValueError, AttributeError):
        return None
    return {"kind": kind, "text": t(f"flash.{text}") if kind == "ok" else text}


def redirect(to: str, flash: str | None = None, error: bool = False) -> RedirectResponse:
    """303 to a page, with a one-shot message for it: a `flash.*` key (`"saved"`), or with
    `error=True` the error's own text."""
    response = RedirectResponse(to, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, json.dumps(("error:" if error else "ok:") + flash),
                            max_age=60, httponly=True, samesite="lax", path="/console")
    return response


def language(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE),
                         request.headers.get("accept-language"))


async def anonymous_page(request: Request) -> Page:
    return Page(request, ApiClient(request, None), language(request))


async def signed_in(request: Request) -> Page:
    """Dependency of every signed-in page: the session's principal, as `/api/v1/me` says."""
    token = session_token(request)
    if not token:
        raise NeedsSignIn(request.url.path)
    api = ApiClient(request, token)
    try:
        me = await api.get("/api/v1/me")
    except ApiError as exc:
        if exc.status == 401:
            raise NeedsSignIn(request.url.path) from None
        raise
    return Page(request, api, language(request), me)


async def form(request: Request) -> dict[str, Any]:
    """The posted form, after its CSRF token is checked (every state change comes here)."""
    data = await request.form()
    if not csrf_ok(request, str(data.get(CSRF_FIELD) or "")):
        raise CsrfFailed()
    return {k: v for k, v in data.multi_items() if k != CSRF_FIELD}


def back(request: Request, fallback: str) -> str:
    """Where a form came from (same site only), to return to after a change."""
    referer = request.headers.get("referer", "")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    if referer.startswith(origin + "/console"):
        return referer[len(origin):]
    return fallback


def error_response(request: Request, status: int, message: str) -> Response:
    console: Console = request.app.state.console
    lang = language(request)
    t = console.catalogue.translator(lang)
    html = console.templates.get_template("error.html").render(
        request=request, me={}, lang=lang, t=t, status=status, message=message,
        csrf=csrf_token(request), loc=lambda v: localise(v, lang), flash=None,
        path=request.url.path, page=None)
    response = HTMLResponse(html, status_code=status)
    attach_presession(request, response)
    return response
