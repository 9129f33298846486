"""The console over plain HTTP: cookie flags, CSRF refusals, tenant isolation, escaping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from maas.console.security import csrf_for_session
from tests.e2e.world import World, console_world
from tests.support.tenancy import PASSWORD, bearer, ok


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fake_engine: tuple[str, Any]
          ) -> Iterator[World]:
    url, engine = fake_engine
    with console_world(tmp_path_factory.mktemp("console-api"), url, engine) as built:
        yield built


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = _csrf(client.get("/console/login").text)
    r = client.post("/console/login", data={"csrf_token": token, "email": email,
                                            "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303 and r.headers["location"] == "/console"
    return client


def test_session_cookie_flags_and_login_csrf(world: World) -> None:
    client = httpx.Client(base_url=world.base, timeout=30)
    page = client.get("/console/login")
    assert page.status_code == 200 and 'charset="utf-8"' in page.text
    refused = client.post("/console/login", data={
        "email": "owner@acme.example", "password": PASSWORD, "csrf_token": "forged"})
    assert refused.status_code == 403 and "maas_session" not in refused.headers.get(
        "set-cookie", "")
    wrong = client.post("/console/login", data={"csrf_token": _csrf(page.text),
                                                "email": "owner@acme.example",
                                                "password": "nope"})
    assert wrong.status_code == 401 and "wrong email or password" in wrong.text
    signed = _signed_in(world.base, "owner@acme.example")
    cookie = next(c for c in signed.cookies.jar if c.name == "maas_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/"
    assert cookie._rest.get("SameSite", "").lower() == "lax"  # noqa: SLF001
    assert signed.get("/console").status_code == 200
    # Unsigned: pages send the browser to sign in.
    r = httpx.get(f"{world.base}/console/keys", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_state_changes_need_the_csrf_token(world: World) -> None:
    client = _signed_in(world.base, "owner@acme.example")
    before = ok(httpx.get(world.acme.api("/keys"), headers=bearer(world.acme.key)))["data"]
    for data in ({"name": "forged"}, {"name": "forged", "csrf_token": "x" * 40}):
        r = client.post("/console/keys", data=data)
        assert r.status_code == 403, r.text
    after = ok(httpx.get(world.acme.api("/keys"), headers=bearer(world.acme.key)))["data"]
    assert len(after) == len(before)
    good = _csrf(client.get("/console/keys").text)
    created = client.post("/console/keys", data={"name": "real", "csrf_token": good})
    assert created.status_code == 201 and re.search(r"sk-[\w-]{20,}", created.text)
    # The API bridge: the session cookie alone is refused, with the header it is the user.
    assert client.get("/v1/models").status_code == 403
    token = client.cookies["maas_session"]
    assert client.get("/v1/models", headers={"x-csrf-token": "wrong"}).status_code == 403
    assert client.get("/v1/models", headers={"x-csrf-token": csrf_for_session(token)}
                      ).status_code == 200
    # Signing out ends the session for the console and for the API.
    client.post("/console/logout", data={"csrf_token": good})
    assert httpx.get(f"{world.base}/v1/models", headers=bearer(token)).status_code == 401


def test_tenant_isolation_by_url(world: World) -> None:
    kb = ok(httpx.post(f"{world.base}/v1/knowledge_bases", headers=bearer(world.acme.key),
                       json={"name": "Acme secrets", "embedding_model": "fake-embed"}), 201)
    intruder = _signed_in(world.base, "owner@globex.example")
    page = intruder.get(f"/console/knowledge/{kb['id']}")
    assert page.status_code == 404 and "Acme secrets" not in page.text
    assert intruder.get(f"/console/knowledge/{kb['id']}?q=x").status_code == 404
    token = _csrf(intruder.get("/console/keys").text)
    r = intruder.post(f"/console/knowledge/{kb['id']}/delete", data={"csrf_token": token})
    assert r.status_code == 404
    r = intruder.post(f"/console/keys/{world.acme.key_id}/revoke", data={"csrf_token": token})
    assert r.status_code == 404
    assert ok(httpx.get(world.acme.api(f"/keys/{world.acme.key_id}"),
                        headers=bearer(world.acme.key)))["revoked_at"] is None
    assert ok(httpx.get(f"{world.base}/v1/knowledge_bases/{kb['id']}",
                        headers=bearer(world.acme.key)))["name"] == "Acme secrets"
    assert "Acme secrets" not in intruder.get("/console/knowledge").text
    assert intruder.get("/console/admin").status_code == 403


def test_hostile_names_are_escaped(world: World) -> None:
    hostile = '<script>alert("kb")</script><img src=x onerror=alert(1)>'
    kb = ok(httpx.post(f"{world.base}/v1/knowledge_bases", headers=bearer(world.acme.key),
                       json={"name": hostile, "embedding_model": "fake-embed"}), 201)
    client = _signed_in(world.base, "owner@acme.example")
    for path in ("/console/knowledge", f"/console/knowledge/{kb['id']}",
                 "/console/playground"):
        html = client.get(path).text
        assert hostile not in html and "<script>alert" not in html, path
        assert "&lt;script&gt;alert(" in html, path
    token = _csrf(client.get("/console/keys").text)
    created = client.post("/console/keys", data={"name": hostile, "csrf_token": token})
    assert created.status_code == 201 and hostile not in created.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in created.text


def test_tenant_switcher(world: World) -> None:
    # The globex owner is also made a member of acme: the switcher moves between them.
    ok(httpx.post(world.acme.api("/members"), headers=bearer(world.acme.owner_token),
                  json={"email": "owner@globex.example", "role": "member"}), 201)
    user = _signed_in(world.base, "owner@globex.example")
    page = user.get("/console").text
    assert 'id="tenant-switch"' in page
    old = user.cookies["maas_session"]
    r = user.post("/console/tenant", data={"tenant_id": "acme", "csrf_token": _csrf(page)})
    assert r.status_code == 303
    assert ok(httpx.get(f"{world.base}/api/v1/me", headers=bearer(user.cookies["maas_session"]))
              )["tenant"]["id"] == "acme"
    assert httpx.get(f"{world.base}/api/v1/me", headers=bearer(old)).status_code == 401
    # Not a member of a third tenant: 404, the session is unchanged.
    page = user.get("/console").text
    r = user.post("/console/tenant", data={"tenant_id": "platform", "csrf_token": _csrf(page)})
    assert r.status_code == 404


def test_software_factory_pages(world: World) -> None:
    client = _signed_in(world.base, "owner@globex.example")
    page = client.get("/console/factory")
    assert page.status_code == 200 and 'action="/console/factory"' in page.text
    assert client.post("/console/factory", data={"message": "x"}).status_code == 403
    created = client.post("/console/factory", data={
        "csrf_token": _csrf(page.text),
        "message": "I need a parts system: parts, suppliers"}, follow_redirects=False)
    assert created.status_code == 303
    session_page = created.headers["location"]
    for message in ("A supplier has name (required), email.",
                    "A part has name (required), quantity (0-1000), supplier.",
                    "Roles: clerk can do everything."):
        token = _csrf(client.get(session_page).text)
        sent = client.post(f"{session_page}/message",
                           data={"csrf_token": token, "content": message})
        assert sent.status_code == 303, sent.text
    html = client.get(session_page).text
    assert "supplier_id" not in html and "→ supplier" in html  # the relation, as a reference
    token = _csrf(html)
    assert client.post(f"{session_page}/confirm", data={"csrf_token": token}).status_code == 303
    assert "Spec confirmed" in client.get(session_page).text  # the flash, in the page's language
    assert client.post(f"{session_page}/generate", data={"csrf_token": token}).status_code == 303
    html = client.get(session_page).text
    assert "Tests passed" in html and "/download" in html
    download = re.search(r'href="(/console/factory/[^"]+/download)"', html).group(1)
    zipped = client.get(download)
    assert zipped.status_code == 200 and zipped.content[:2] == b"PK"
    intruder = _signed_in(world.base, "owner@acme.example")
    assert intruder.get(session_page).status_code == 404
    assert intruder.get(download).status_code == 404
