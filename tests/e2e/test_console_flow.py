"""The console in headless Chromium: the acceptance flow, isolation by URL, screenshots."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.world import World
from tests.support.tenancy import ADMIN, PASSWORD, ok

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DESKTOP = {"width": 1366, "height": 768}
MOBILE = {"width": 390, "height": 844}
PAGES = {"dashboard": "/console", "models": "/console/models",
         "model": "/console/models/fake-chat", "playground": "/console/playground",
         "knowledge": "/console/knowledge", "apps": "/console/apps",
         "app": "/console/apps/inspection-report", "keys": "/console/keys",
         "usage": "/console/usage", "credits": "/console/credits",
         "members": "/console/members", "audit": "/console/audit",
         "toolbox": "/console/toolbox", "factory": "/console/factory"}


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/console")
    assert "/console/login" in page.url  # no session: sent to sign in
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/console")


def _snap(page: Any, base: str, shots: Path, name: str, path: str) -> None:
    for label, size in (("desktop", DESKTOP), ("mobile", MOBILE)):
        page.set_viewport_size(size)
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{name}-{label}.png"), full_page=label == "mobile")
    page.set_viewport_size(DESKTOP)


def test_acceptance_flow(world: World, browser: Any, shots: Path) -> None:
    base = world.base
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.screenshot(path=str(shots / "login-desktop.png"))
    _sign_in(page, base, "owner@acme.example")
    cookie = next(c for c in context.cookies() if c["name"] == "maas_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # Create a key: the secret is shown once, and it really works on /v1.
    page.goto(f"{base}/console/keys")
    page.fill("#key-create input[name=name]", "MES integration")
    page.click("#key-create button")
    secret = page.text_content("#secret").strip()
    assert secret.startswith("sk-")
    assert httpx.get(f"{base}/v1/models", headers={"authorization": f"Bearer {secret}"}
                     ).status_code == 200
    page.goto(f"{base}/console/keys")
    assert secret not in page.content() and "MES integration" in page.content()

    # Chat in the playground, streamed through the browser.
    page.goto(f"{base}/console/playground?model=fake-chat")
    page.fill("#prompt", "How do I lock out press 7?")
    page.click("#send")
    page.wait_for_selector(".msg.assistant[data-done='1']", timeout=20000)
    answer = page.text_content(".msg.assistant")
    assert "echo: How do I lock out press 7?" in answer
    sent = world.engine.state.requests[-1]
    assert sent["stream"] is True and sent["model"] == "fake"
    assert "stream" in page.text_content("#code")  # the equivalent curl for what was sent

    # A knowledge base: create, upload (browser XHR with progress), list, search.
    page.goto(f"{base}/console/knowledge")
    page.fill("#kb-create input[name=name]", "Maintenance manuals")
    page.select_option("#kb-create select[name=embedding_model]", "fake-embed")
    page.click("#kb-create button")
    page.wait_for_url(re.compile(r".*/console/knowledge/kb_.*"))
    kb_url = page.url
    page.set_input_files("#upload-file", files=[{
        "name": "spindle.md", "mimeType": "text/markdown",
        "buffer": b"# Spindle\n\nAlarm 2001 means the spindle is overheating: stop and check the "
                  b"lubrication pump.\n"}])
    page.click("#upload-btn")
    page.wait_for_selector("#doc-list td:has-text('spindle.md')", timeout=30000)
    page.fill("#kb-search input[name=q]", "alarm 2001 spindle")
    page.click("#kb-search button")
    page.wait_for_selector("#hits .hit")
    assert "lubrication pump" in page.text_content("#hits")

    # Subscribe to a form app and run it.
    page.goto(f"{base}/console/apps")
    page.click("[data-app='inspection-report']")
    page.click("#subscribe")
    page.wait_for_selector("#run-form")
    page.fill("#run-form input[name=machine]", "Press 7")
    page.fill("#run-form input[name=hours]", "1200")
    page.select_option("#run-form select[name=shift]", "night")
    page.click("#run-btn")
    page.wait_for_selector("#run-result")
    assert "Press 7" in page.text_content("#run-document")

    # The dashboard's charts show that usage.
    page.goto(f"{base}/console")
    assert int(page.text_content("#stat-requests").replace(",", "")) >= 3
    bars = page.eval_on_selector_all("#chart-requests rect",
                                     "els => els.map(e => parseFloat(e.getAttribute('height')))")
    assert len(bars) == 14 and bars[-1] > 0
    assert "fake-chat" in page.text_content("#top-models")

    # The software factory: requirements in conversation -> a tested project to download.
    page.goto(f"{base}/console/factory")
    page.fill("#new-session textarea[name=message]",
              "I need an inspection system: devices, inspection records, overdue report")
    page.click("#new-session button")
    page.wait_for_selector("#message-form")
    factory_url = page.url
    for message in ("A device has name (required), serial number (unique).",
                    "An inspection record has device, inspected on (date, required), "
                    "result (ok/defect, required).",
                    "Overdue report: inspection records whose inspected on is before today.",
                    "Roles: inspector can do everything.", "confirm"):
        page.fill("#message-form textarea", message)
        page.click("#message-form button")
        page.wait_for_selector("#message-form")
    page.click("#generate-form button")
    page.wait_for_selector("#builds .badge.ok", timeout=120_000)
    assert "Project generated" in page.text_content(".flash")
    assert "Tests passed" in page.text_content("#builds")

    for name, path in {**PAGES, "factory-session": factory_url.removeprefix(base)}.items():
        _snap(page, base, shots, name, path)
    _snap(page, base, shots, "knowledge-base", kb_url.removeprefix(base) + "?q=spindle+alarm")

    # Chinese, and the choice sticks.
    page.click("#lang-switch")
    page.wait_for_load_state()
    assert "仪表盘" in page.text_content("h1.page-title") or "知识库" in page.content()
    page.goto(f"{base}/console")
    page.screenshot(path=str(shots / "dashboard-zh-desktop.png"))
    context.close()

    # A second tenant cannot open the first tenant's resources by URL.
    other = browser.new_context(viewport=DESKTOP)
    intruder = other.new_page()
    _sign_in(intruder, base, "owner@globex.example")
    response = intruder.goto(kb_url)
    assert response.status == 404
    assert "Maintenance manuals" not in intruder.content()
    intruder.screenshot(path=str(shots / "not-found-desktop.png"))
    assert intruder.goto(f"{base}/console/admin").status == 403
    run_id = ok(httpx.get(f"{base}/v1/apps/inspection-report/runs",
                          headers={"authorization": f"Bearer {world.acme.key}"}))["data"][0]["id"]
    assert intruder.goto(f"{base}/console/apps/inspection-report/runs/{run_id}/document"
                         ).status == 404
    other.close()


def test_platform_admin_pages(world: World, browser: Any, shots: Path) -> None:
    ok(httpx.post(f"{world.base}/admin/v1/users", headers=ADMIN, json={
        "email": "root@platform.example", "name": "Platform admin", "password": PASSWORD,
        "is_platform_admin": True}), 201)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, world.base, "root@platform.example")
    page.goto(f"{world.base}/console/admin")
    assert "acme" in page.text_content("#tenants")
    page.fill("form[action='/console/admin/vouchers'] input[name=name]", "Launch")
    page.fill("form[action='/console/admin/vouchers'] input[name=issuer]", "Sales")
    page.fill("form[action='/console/admin/vouchers'] input[name=amount]", "25")
    page.fill("form[action='/console/admin/vouchers'] input[name=count]", "2")
    page.click("form[action='/console/admin/vouchers'] button")
    codes = page.text_content("#codes").split()
    assert len(codes) == 2
    _snap(page, world.base, shots, "admin", "/console/admin")
    context.close()

    # The acme owner redeems one of those codes from the credits page.
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, world.base, "owner@acme.example")
    page.goto(f"{world.base}/console/credits")
    before = float(page.text_content("#balance").replace(",", ""))
    page.fill("#redeem-form input[name=code]", codes[0])
    page.click("#redeem-form button")
    page.wait_for_selector(".flash")
    assert float(page.text_content("#balance").replace(",", "")) == pytest.approx(before + 25)
    context.close()
