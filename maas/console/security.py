"""Session cookie and CSRF tokens for the console.

The session cookie holds a token from `users.sign_in` (HttpOnly, SameSite=Lax, Secure on
HTTPS), so page scripts never see it. Every state change carries a CSRF token: with a
session it is an HMAC of the session token (bound to the session, nothing stored server
side); before sign-in it is a random double-submit cookie. Both are compared in constant
time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

SESSION_COOKIE = "maas_session"
PRESESSION_COOKIE = "maas_csrf"
LANG_COOKIE = "maas_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def csrf_for_session(token: str) -> str:
    """The CSRF token bound to one session: useless without the HttpOnly cookie."""
    return hmac.new(token.encode(), b"maas-console-csrf", hashlib.sha256).hexdigest()[:40]


def csrf_token(request: Request) -> str:
    """The token forms and scripts of this page must send back.

    Without a session, a fresh random value is stored on `request.state` so the response
    can set it as the pre-session cookie (see `attach_presession`).
    """
    token = session_token(request)
    if token:
        return csrf_for_session(token)
    existing = request.cookies.get(PRESESSION_COOKIE)
    if existing:
        return existing
    minted = getattr(request.state, "minted_csrf", None)
    if minted is None:
        minted = secrets.token_urlsafe(24)
        request.state.minted_csrf = minted
    return minted


def csrf_ok(request: Request, sent: str | None) -> bool:
    if not sent:
        return False
    token = session_token(request)
    expected = csrf_for_session(token) if token else request.cookies.get(PRESESSION_COOKIE)
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def attach_presession(request: Request, response: Response) -> None:
    minted = getattr(request.state, "minted_csrf", None)
    if minted:
        response.set_cookie(PRESESSION_COOKIE, minted, httponly=True, samesite="strict",
                            secure=_secure(request), path="/console")


def set_session(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True,
                        samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(PRESESSION_COOKIE, path="/console")


def clear_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
