"""Lets the console's own scripts call the JSON API with the session cookie.

The playground streams `/v1/chat/completions` and the knowledge page uploads with a
progress bar straight against the API, so streaming, metering and tenant scoping are the
API's own. A request to an API path that has no `Authorization` header but carries the
console's session cookie is given `Authorization: Bearer <session token>` only when its
`X-CSRF-Token` header matches the session: another site can make a browser send the
cookie, but it cannot read the token nor set that header. Without the header the request is
refused (403, OpenAI's envelope) rather than passed on unauthenticated.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from maas.console.security import CSRF_HEADER, SESSION_COOKIE, csrf_for_session

API_PREFIXES = ("/v1/", "/api/v1/", "/admin/v1/")


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no session
                return None
            if name in jar:
                return jar[name].value
    return None


class SessionBridge:
    """ASGI middleware: session cookie + matching CSRF header -> bearer session token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope["headers"])
        if any(k == b"authorization" for k, _ in headers):
            await self.app(scope, receive, send)
            return
        token = _cookie(headers, SESSION_COOKIE)
        if not token:
            await self.app(scope, receive, send)
            return
        sent = next((v.decode("latin-1") for k, v in headers if k == CSRF_HEADER.encode()), "")
        if not hmac.compare_digest(sent.encode("latin-1"),
                                   csrf_for_session(token).encode()):
            await _refuse(send)
            return
        headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
        await self.app({**scope, "headers": headers}, receive, send)


async def _refuse(send: Send) -> None:
    body = json.dumps({"error": {
        "message": "Missing or wrong X-CSRF-Token header for a cookie-authenticated request.",
        "type": "permission_error", "param": None, "code": "csrf_failed"}}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
