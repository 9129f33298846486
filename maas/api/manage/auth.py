"""`/api/v1/auth`: console sign-in with email and password; `/api/v1/me`: who am I."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from maas.api.deps import in_session, principal, services
from maas.api.errors import AuthError
from maas.db.tables import Tenant, User
from maas.errors import PermissionDenied, RateLimited
from maas.limits.ratelimit import ScopeLimits
from maas.services import Services
from maas.tenancy import tenants, users
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["auth"])

class SignInBody(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    tenant_id: str | None = Field(default=None, max_length=64)

LOGIN_ATTEMPTS_PER_MINUTE = 10  # per email, and 3x that per client address


async def _throttle(svc: Services, email: str, client: str) -> None:
    """Slow password guessing: a few attempts per minute per account and per address."""
    scopes = [ScopeLimits(f"login:{email.strip().lower()}", LOGIN_ATTEMPTS_PER_MINUTE),
              ScopeLimits(f"login-ip:{client}", LOGIN_ATTEMPTS_PER_MINUTE * 3)]
    lease = secrets.token_hex(8)
    decision = await svc.meter.limiter.acquire(scopes, 0, lease)
    await svc.meter.limiter.settle(scopes, lease, 0, 0)
    if not decision.allowed:
        raise RateLimited(f"Too many sign-in attempts; try again in "
                          f"{decision.retry_after:.0f}s.", decision.retry_after)


@router.post("/auth/login")
async def login(body: SignInBody, request: Request, svc: Services = Depends(services)
                ) -> dict[str, Any]:
    await _throttle(svc, body.email, request.client.host if request.client else "-")
    try:
        signed = await in_session(
            svc, lambda s: users.sign_in(s, body.email, body.password, body.tenant_id))
    except PermissionDenied as exc:
        raise AuthError(exc.message, exc.code) from None
    return {"token": signed.token, "token_type": "bearer", "user_id": signed.user.id,
            "tenant_id": signed.session.tenant_id, "expires_at": signed.session.expires_at}

@router.post("/auth/logout")
async def logout(request: Request, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    await in_session(svc, lambda s: users.sign_out(s, token))
    svc.principals.clear()
    return {"signed_out": True}

@router.get("/me")
async def me(who: Principal = Depends(principal), svc: Services = Depends(services)
             ) -> dict[str, Any]:
    def work(session: Any) -> dict[str, Any]:
        tenant = tenants.get_tenant(session, who.tenant_id)
        memberships: list[dict[str, Any]] = []
        user = session.get(User, who.user_id) if who.user_id else None
        if user is not None:
            for m in users.tenants_of(session, user):
                t: Tenant | None = session.get(Tenant, m.tenant_id)
                memberships.append({"tenant_id": m.tenant_id, "name": t.name if t else "",
                                    "role": m.role})
        return {
            "tenant": tenants.tenant_view(tenant), "role": who.role, "key_id": who.key_id,
            "user": {"id": user.id, "email": user.email, "name": user.name} if user else None,
            "tenants": memberships, "plan": {"id": who.plan_id, "billing": who.billing,
                                             "limits": who.plan_limits.model_dump()},
            "key_limits": who.key_limits.model_dump(exclude_none=True),
            "allowed_models": who.allowed_models, "allowed_apps": who.allowed_apps,
        }

    return await in_session(svc, work)
