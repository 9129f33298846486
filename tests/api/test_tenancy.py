"""Tenancy through the public API, on SQLite and PostgreSQL: isolation, roles, keys."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.support.tenancy import ADMIN, bearer, chat, grant, make_tenant, ok, sign_in


def _status(method: str, url: str, token: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, url, headers=bearer(token), timeout=30, **kwargs)


def _leaks(text: str, secrets: set[str], path: str) -> bool:
    """Whether a response shows any of A's data (echoing the id the caller sent is not)."""
    return any(s in text for s in secrets if s not in path)


def test_isolation_matrix(tenancy_gateway: str) -> None:
    """Every resource endpoint, called by tenant B with A's ids: 404 and none of A's data."""
    base = tenancy_gateway
    a, b = make_tenant(base, "tenant-a"), make_tenant(base, "tenant-b")
    grant(base, a.id, 5)
    assert chat(base, a.key).status_code == 200
    usage_id = ok(httpx.get(a.api("/usage"), headers=bearer(a.key)))["data"][0]["id"]
    event_id = ok(httpx.get(a.api("/audit"), headers=bearer(a.key)))["data"][0]["id"]
    a_secrets = {a.key_id, a.owner_id, a.member_id, usage_id, a.key}

    foreign = [  # A's resources, under A's tenant id
        ("GET", ""), ("GET", "/keys"), ("GET", f"/keys/{a.key_id}"),
        ("PATCH", f"/keys/{a.key_id}"), ("POST", f"/keys/{a.key_id}/rotate"),
        ("DELETE", f"/keys/{a.key_id}"), ("POST", "/keys"),
        ("GET", "/members"), ("GET", f"/members/{a.member_id}"),
        ("PATCH", f"/members/{a.member_id}"), ("DELETE", f"/members/{a.member_id}"),
        ("POST", "/members"),
        ("GET", "/usage"), ("GET", f"/usage/{usage_id}"), ("GET", "/usage/report"),
        ("GET", "/usage/export.csv"), ("GET", "/audit"), ("GET", f"/audit/{event_id}"),
        ("GET", "/credits"), ("GET", "/credits/ledger"), ("POST", "/credits/redeem"),
    ]
    bodies = {"PATCH": {"role": "member"}, "POST": {"name": "x", "email": "x@y.zz",
                                                     "code": "MAAS-XXXX"}}
    for token in (b.key, b.owner_token, b.member_token):
        for method, path in foreign:
            body = bodies.get(method)
            if path.endswith("/keys") and method == "POST":
                body = {"name": "x"}
            if path.endswith("/rotate") or path.endswith("/members") and method == "POST":
                body = {} if path.endswith("/rotate") else {"email": "x@y.zz"}
            if path.endswith("/redeem"):
                body = {"code": "MAAS-XXXX"}
            r = _status(method, a.api(path), token, json=body)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert not _leaks(r.text, a_secrets, path), (method, path)
        # A's ids under B's own tenant id: also 404, never A's data.
        for method, path in [("GET", f"/keys/{a.key_id}"), ("PATCH", f"/keys/{a.key_id}"),
                             ("DELETE", f"/keys/{a.key_id}"), ("GET", f"/members/{a.owner_id}"),
                             ("DELETE", f"/members/{a.member_id}"),
                             ("GET", f"/usage/{usage_id}"), ("GET", f"/audit/{event_id}")]:
            r = _status(method, b.api(path), token, json=bodies.get(method))
            if r.status_code == 403:  # a plain member lacks the admin role in its own tenant
                assert token == b.member_token
                continue
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert not _leaks(r.text, a_secrets, path), (method, path)
    # B's lists contain nothing of A's.
    for path in ("/keys", "/members", "/usage", "/audit", "/credits/ledger"):
        r = ok(_status("GET", b.api(path), b.owner_token))
        assert not any(s in str(r) for s in a_secrets), path
    # A's key still works and was not touched by B's attempts.
    assert ok(httpx.get(a.api(f"/keys/{a.key_id}"), headers=bearer(a.key)))["revoked_at"] is None


def test_no_one_widens_their_own_role_or_scope(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    a = make_tenant(base, "acme")
    member = a.member_token
    # A member cannot mint an admin key, nor promote one of its keys, nor itself.
    r = _status("POST", a.api("/keys"), member, json={"name": "x", "role": "tenant_admin"})
    assert r.status_code == 403 and r.json()["error"]["param"] == "role"
    own = ok(_status("POST", a.api("/keys"), member, json={
        "name": "mine", "allowed_models": ["fake-chat"],
        "limits": {"requests_per_minute": 5}}), 201)
    r = _status("PATCH", a.api(f"/keys/{own['id']}"), own["key"], json={"role": "tenant_owner"})
    assert r.status_code == 403
    r = _status("PATCH", a.api(f"/members/{a.member_id}"), member, json={"role": "tenant_owner"})
    assert r.status_code == 403
    # The restricted key cannot create a wider key or loosen its own scope.
    for body in ({"name": "wide"}, {"name": "w", "allowed_models": ["fake-chat", "fake-base"]},
                 {"name": "w", "allowed_models": ["fake-chat"]}):
        r = _status("POST", a.api("/keys"), own["key"], json=body)
        assert r.status_code == 403, body
    r = _status("PATCH", a.api(f"/keys/{own['id']}"), own["key"],
                json={"allowed_models": None})
    assert r.status_code == 403
    r = _status("PATCH", a.api(f"/keys/{own['id']}"), own["key"],
                json={"limits": {"requests_per_minute": 500}})
    assert r.status_code == 403
    narrower = ok(_status("POST", a.api("/keys"), own["key"], json={
        "name": "narrow", "allowed_models": ["fake-chat"],
        "limits": {"requests_per_minute": 2}}), 201)
    assert narrower["allowed_models"] == ["fake-chat"]
    # The scope is enforced: fake-base is invisible and unusable for this key.
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=own["key"], max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-chat"]
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="fake-base", prompt="x")
    # Members cannot read the audit log, manage members or reach the admin API.
    assert _status("GET", a.api("/audit"), member).status_code == 403
    assert _status("POST", a.api("/members"), member,
                   json={"email": "owner@acme.example"}).status_code == 403
    assert _status("GET", f"{base}/admin/v1/tenants", member).status_code == 403
    assert _status("POST", f"{base}/admin/v1/tenants/acme/credits", a.key,
                   json={"amount": 100}).status_code == 403
    # An admin cannot make an owner, change itself, or demote the last owner.
    ok(_status("PATCH", a.api(f"/members/{a.member_id}"), a.owner_token,
               json={"role": "tenant_admin"}))
    admin_token = sign_in(base, "member@acme.example")
    r = _status("PATCH", a.api(f"/members/{a.member_id}"), admin_token,
                json={"role": "tenant_owner"})
    assert r.status_code == 403
    r = _status("PATCH", a.api(f"/members/{a.owner_id}"), admin_token, json={"role": "member"})
    assert r.status_code == 403
    r = _status("PATCH", a.api(f"/members/{a.owner_id}"), a.owner_token,
                json={"role": "member"})
    assert r.status_code == 403  # own role
    r = _status("PATCH", a.api(f"/members/{a.owner_id}"), ADMIN["authorization"][7:],
                json={"role": "member"})
    assert r.status_code == 400 and "owner" in r.json()["error"]["message"]
    actions = [e["action"] for e in ok(_status("GET", a.api("/audit"), a.owner_token))["data"]]
    assert "member.role" in actions and "key.create" in actions


def test_revocation_and_rotation(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    a = make_tenant(base, "rot")
    created = ok(_status("POST", a.api("/keys"), a.owner_token, json={"name": "ci"}), 201)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=created["key"], max_retries=0)
    assert client.models.list().data
    ok(_status("DELETE", a.api(f"/keys/{created['id']}"), a.owner_token))
    with pytest.raises(openai.AuthenticationError):
        client.models.list()  # at once, not after a cache TTL

    old = ok(_status("POST", a.api("/keys"), a.owner_token, json={"name": "svc"}), 201)
    old_client = openai.OpenAI(base_url=f"{base}/v1", api_key=old["key"], max_retries=0)
    assert old_client.models.list().data  # cached from here on
    rotated = ok(_status("POST", a.api(f"/keys/{old['id']}/rotate"), a.owner_token,
                         json={"grace_seconds": 2}), 201)
    assert rotated["key"] != old["key"] and rotated["replaces"] == old["id"]
    new_client = openai.OpenAI(base_url=f"{base}/v1", api_key=rotated["key"], max_retries=0)
    assert old_client.models.list().data and new_client.models.list().data  # grace period
    time.sleep(2.5)
    with pytest.raises(openai.AuthenticationError):
        old_client.models.list()
    assert new_client.models.list().data
    listed = {k["id"]: k for k in ok(_status("GET", a.api("/keys"), a.owner_token))["data"]}
    assert listed[old["id"]]["replaced_by"] == rotated["id"]
    assert all("key" not in k for k in listed.values())
    assert listed[rotated["id"]]["last_used_at"] is not None
    r = _status("POST", a.api(f"/keys/{old['id']}/rotate"), a.owner_token, json={})
    assert r.status_code == 400 and "expired" in r.json()["error"]["message"]
    r = _status("POST", a.api(f"/keys/{rotated['id']}/rotate"), a.owner_token,
                json={"grace_seconds": -1})
    assert r.status_code == 400


def test_sign_in_and_sessions(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    a = make_tenant(base, "web")
    r = httpx.post(f"{base}/api/v1/auth/login", json={"email": "owner@web.example",
                                                      "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    r = httpx.post(f"{base}/api/v1/auth/login", json={"email": "nobody@web.example",
                                                      "password": "wrong password!"})
    assert r.status_code == 401
    me = ok(httpx.get(f"{base}/api/v1/me", headers=bearer(a.owner_token)))
    assert me["tenant"]["id"] == "web" and me["role"] == "tenant_owner"
    assert me["tenants"] == [{"tenant_id": "web", "name": "WEB", "role": "tenant_owner"}]
    r = httpx.post(f"{base}/api/v1/auth/login", json={"email": "owner@web.example",
                                                      "password": "correct horse battery",
                                                      "tenant_id": "default"})
    assert r.status_code == 404  # not a member there
    ok(httpx.post(f"{base}/api/v1/auth/logout", headers=bearer(a.owner_token)))
    assert httpx.get(f"{base}/api/v1/me", headers=bearer(a.owner_token)).status_code == 401
    r = httpx.post(f"{base}/admin/v1/users", headers=ADMIN, json={
        "email": "weak@web.example", "name": "W", "password": "short"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "password"
    r = httpx.post(f"{base}/admin/v1/users", headers=ADMIN, json={
        "email": "owner@web.example", "name": "W", "password": "long enough pw"})
    assert r.status_code == 409


def test_sign_in_attempts_are_throttled(tenancy_gateway: str) -> None:
    base = tenancy_gateway
    make_tenant(base, "guess")
    codes = [httpx.post(f"{base}/api/v1/auth/login", json={
        "email": "owner@guess.example", "password": f"wrong guess {i}"}).status_code
        for i in range(12)]
    assert codes[:9].count(401) == 9 and codes[-1] == 429
    r = httpx.post(f"{base}/api/v1/auth/login", json={
        "email": "owner@guess.example", "password": "correct horse battery"})
    assert r.status_code == 429 and "retry-after" in r.headers  # even the right password
