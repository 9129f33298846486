"""Building tenants, users and keys through the public admin and management APIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import ADMIN_KEY

PASSWORD = "correct horse battery"


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


ADMIN = bearer(ADMIN_KEY)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


@dataclass
class TenantWorld:
    """One tenant with an owner (signed in), a member (signed in) and an owner key."""

    base: str
    id: str
    owner_id: str
    owner_token: str
    member_id: str
    member_token: str
    key_id: str
    key: str
    extra: dict[str, Any] = field(default_factory=dict)

    def api(self, path: str) -> str:
        return f"{self.base}/api/v1/tenants/{self.id}{path}"


def make_plan(base: str, plan_id: str, billing: str = "prepaid", **limits: Any) -> None:
    ok(httpx.post(f"{base}/admin/v1/plans", headers=ADMIN,
                  json={"id": plan_id, "name": plan_id, "billing": billing, "limits": limits}),
       201)


def sign_in(base: str, email: str, tenant_id: str | None = None) -> str:
    body = {"email": email, "password": PASSWORD}
    if tenant_id:
        body["tenant_id"] = tenant_id
    return ok(httpx.post(f"{base}/api/v1/auth/login", json=body))["token"]


def make_tenant(base: str, tenant_id: str, plan: str = "free") -> TenantWorld:
    owner_email, member_email = f"owner@{tenant_id}.example", f"member@{tenant_id}.example"
    owner = ok(httpx.post(f"{base}/admin/v1/users", headers=ADMIN, json={
        "email": owner_email, "name": "Owner", "password": PASSWORD}), 201)
    member = ok(httpx.post(f"{base}/admin/v1/users", headers=ADMIN, json={
        "email": member_email, "name": "Member", "password": PASSWORD}), 201)
    ok(httpx.post(f"{base}/admin/v1/tenants", headers=ADMIN, json={
        "id": tenant_id, "name": tenant_id.upper(), "plan": plan, "owner_email": owner_email}),
       201)
    owner_token = sign_in(base, owner_email)
    ok(httpx.post(f"{base}/api/v1/tenants/{tenant_id}/members", headers=bearer(owner_token),
                  json={"email": member_email, "role": "member"}), 201)
    key = ok(httpx.post(f"{base}/api/v1/tenants/{tenant_id}/keys", headers=bearer(owner_token),
                        json={"name": "owner key", "role": "tenant_owner"}), 201)
    return TenantWorld(base=base, id=tenant_id, owner_id=owner["id"], owner_token=owner_token,
                       member_id=member["id"], member_token=sign_in(base, member_email),
                       key_id=key["id"], key=key["key"])


def grant(base: str, tenant_id: str, amount: float, **extra: Any) -> dict[str, Any]:
    return ok(httpx.post(f"{base}/admin/v1/tenants/{tenant_id}/credits", headers=ADMIN,
                         json={"amount": amount, **extra}), 201)


def chat(base: str, key: str, content: str = "hello", **extra: Any) -> httpx.Response:
    return httpx.post(f"{base}/v1/chat/completions", headers=bearer(key), timeout=30,
                      json={"model": "fake-chat",
                            "messages": [{"role": "user", "content": content}], **extra})
