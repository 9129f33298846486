"""Admin API: keys (shown once, revocation bites at once) and the model registry."""

from __future__ import annotations

import httpx
import openai

from tests.conftest import ADMIN_KEY

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def test_key_create_use_revoke(gateway: str) -> None:
    r = httpx.post(f"{gateway}/api/v1/tenants/default/keys", headers=ADMIN,
                   json={"name": "integration"})
    assert r.status_code == 201
    created = r.json()
    secret = created["key"]
    assert secret.startswith(created["prefix"])
    member = openai.OpenAI(base_url=f"{gateway}/v1", api_key=secret, max_retries=0)
    assert any(m.id == "fake-chat" for m in member.models.list())
    listed = httpx.get(f"{gateway}/api/v1/tenants/default/keys", headers=ADMIN).json()["data"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and secret not in r.text.replace(secret, "", 1)
    # A member key cannot use the admin API.
    r = httpx.get(f"{gateway}/admin/v1/models", headers={"authorization": f"Bearer {secret}"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    r = httpx.delete(f"{gateway}/api/v1/tenants/default/keys/{created['id']}", headers=ADMIN)
    assert r.status_code == 200 and r.json()["revoked_at"]
    try:
        member.models.list()
        raise AssertionError("revoked key still works")
    except openai.AuthenticationError:
        pass


def test_key_validation_errors(gateway: str) -> None:
    r = httpx.post(f"{gateway}/api/v1/tenants/default/keys", headers=ADMIN, json={"name": ""})
    assert r.status_code == 400 and r.json()["error"]["param"] == "name"
    r = httpx.post(f"{gateway}/api/v1/tenants/nope/keys", headers=ADMIN, json={"name": "x"})
    assert r.status_code == 404
    r = httpx.post(f"{gateway}/api/v1/tenants/default/keys", headers=ADMIN,
                   json={"name": "x", "role": "overlord"})
    assert r.status_code == 400 and "role" in r.json()["error"]["message"]


def test_registry_admin(gateway: str) -> None:
    models = httpx.get(f"{gateway}/admin/v1/models", headers=ADMIN).json()["data"]
    assert {m["id"] for m in models} >= {"fake-chat", "big-gpu-model"}
    shown = httpx.get(f"{gateway}/admin/v1/models/big-gpu-model", headers=ADMIN).json()
    assert shown["manifest"]["engines"][0]["kind"] == "vllm" and shown["status"] == "unavailable"
    assert httpx.get(f"{gateway}/admin/v1/models/missing", headers=ADMIN).status_code == 404
    r = httpx.post(f"{gateway}/admin/v1/models/fake-base/disable", headers=ADMIN)
    assert r.json()["enabled"] is False
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=ADMIN_KEY, max_retries=0)
    assert "fake-base" not in {m.id for m in client.models.list()}
    httpx.post(f"{gateway}/admin/v1/models/fake-base/enable", headers=ADMIN)
    assert "fake-base" in {m.id for m in client.models.list()}
