"""`/api/v1/tenants/{tenant_id}/members`: list and show (members), add, change role and
remove (tenant admins, never on themselves or above their own role)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import in_session, principal, services
from maas.services import Services
from maas.tenancy import users
from maas.tenancy.principal import MEMBER, TENANT_ADMIN, Principal, require_tenant

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}/members", tags=["members"])


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    role: str = MEMBER


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str


@router.get("")
async def list_members(tenant_id: str, who: Principal = Depends(principal),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    data = await in_session(svc, lambda s: [users.member_view(m, u)
                                            for m, u in users.list_members(s, tenant_id)])
    return {"object": "list", "data": data}


@router.get("/{user_id}")
async def show_member(tenant_id: str, user_id: str, who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id)
    return await in_session(svc, lambda s: users.member_view(*users.get_member(s, tenant_id,
                                                                              user_id)))


@router.post("", status_code=201)
async def add_member(tenant_id: str, body: MemberAdd, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)

    def work(session: Any) -> dict[str, Any]:
        member = users.add_member(session, tenant_id, body.email, body.role, by=who)
        return users.member_view(*users.get_member(session, tenant_id, member.user_id))

    return await in_session(svc, work)


@router.patch("/{user_id}")
async def change_role(tenant_id: str, user_id: str, body: RoleChange,
                      who: Principal = Depends(principal), svc: Services = Depends(services)
                      ) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)

    def work(session: Any) -> dict[str, Any]:
        users.set_role(session, tenant_id, user_id, body.role, by=who)
        return users.member_view(*users.get_member(session, tenant_id, user_id))

    view = await in_session(svc, work)
    svc.principals.clear()
    return view


@router.delete("/{user_id}")
async def remove_member(tenant_id: str, user_id: str, who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, tenant_id, TENANT_ADMIN)
    await in_session(svc, lambda s: users.remove_member(s, tenant_id, user_id, by=who))
    svc.principals.clear()
    return {"id": user_id, "object": "member", "deleted": True}
