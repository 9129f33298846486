"""FastAPI dependencies: the services container and the calling principal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from sqlmodel import Session

from maas.api.errors import AuthError
from maas.db.tables import utcnow
from maas.services import Services
from maas.tenancy.keys import authenticate, hash_secret
from maas.tenancy.principal import Principal
from maas.tenancy.users import SESSION_PREFIX, authenticate_session

T = TypeVar("T")


def services(request: Request) -> Services:
    return request.app.state.services


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "You didn't provide an API key. Provide it in the Authorization header "
            "(Authorization: Bearer YOUR_KEY)."
        )
    return token.strip()


def _redact(secret: str) -> str:
    return secret[:8] + "*" * 4 + secret[-4:] if len(secret) > 12 else "****"


async def principal(request: Request) -> Principal:
    """The principal for the bearer key; 401 in OpenAI's words when it is not valid."""
    secret = _bearer(request)
    svc = services(request)
    key_hash = hash_secret(secret)
    cached = svc.principals.get(key_hash)
    if cached is not None and cached.expires_at is not None and cached.expires_at <= utcnow():
        cached = None  # expired (e.g. a rotated key's grace ran out): check the database
    if cached is not None:
        request.state.principal = cached
        return cached

    def lookup() -> Principal | None:
        with svc.db.session() as session:
            if secret.startswith(SESSION_PREFIX):
                return authenticate_session(session, secret)
            return authenticate(session, secret)

    found = await asyncio.to_thread(lookup)
    if found is None:
        raise AuthError(f"Incorrect API key provided: {_redact(secret)}.")
    svc.principals.put(key_hash, found)
    request.state.principal = found
    return found


async def platform_admin(request: Request) -> Principal:
    found = await principal(request)
    if not found.is_platform_admin:
        raise AuthError("This endpoint needs a platform admin key.", "permission_denied", 403)
    return found


async def in_session(svc: Services, work: Callable[[Session], T]) -> T:
    """Run sync domain code in one transaction, off the event loop."""

    def run() -> T:
        with svc.db.session() as session:
            return work(session)

    return await asyncio.to_thread(run)
