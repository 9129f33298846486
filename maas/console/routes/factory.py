"""Software factory: sessions, the conversation beside the growing spec, confirm, model
wording, generate (tests in the sandbox), builds with downloads, publish as a private app."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from maas.console.client import ApiError
from maas.console.web import Page, form, redirect, signed_in

router = APIRouter(prefix="/console/factory", include_in_schema=False)


def _session(session_id: str) -> str:
    return f"/v1/factory/sessions/{quote(session_id, safe='')}"


def _page(session_id: str) -> str:
    return f"/console/factory/{quote(session_id, safe='')}"


@router.get("")
async def sessions(page: Page = Depends(signed_in)) -> Response:
    data = (await page.api.get("/v1/factory/sessions"))["data"]
    return page.render("factory.html", sessions=data)


@router.post("")
async def create(request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    body: dict[str, Any] = {"language": "zh" if page.lang == "zh" else "en"}
    if str(data.get("message") or "").strip():
        body["message"] = str(data["message"])
    try:
        session = await page.api.send("POST", "/v1/factory/sessions", json=body)
    except ApiError as exc:
        return redirect("/console/factory", exc.message, error=True)
    return redirect(_page(session["id"]))


@router.get("/{session_id}")
async def detail(session_id: str, page: Page = Depends(signed_in)) -> Response:
    session = await page.api.get(_session(session_id))
    messages = (await page.api.get(_session(session_id) + "/messages"))["data"]
    builds = (await page.api.get(_session(session_id) + "/builds"))["data"]
    versions = (await page.api.get(_session(session_id) + "/versions"))["data"]
    return page.render("factory_session.html", session=session, messages=messages,
                       builds=builds, versions=versions[-5:][::-1])


async def _act(page: Page, session_id: str, path: str, body: dict[str, Any] | None = None,
               done: str | None = None) -> Response:
    """POST to the session's API; back to the session page with its answer or error."""
    try:
        await page.api.send("POST", _session(session_id) + path, json=body or {})
    except ApiError as exc:
        return redirect(_page(session_id), exc.message, error=True)
    return redirect(_page(session_id), done)


@router.post("/{session_id}/message")
async def message(session_id: str, request: Request, page: Page = Depends(signed_in)
                  ) -> Response:
    data = await form(request)
    return await _act(page, session_id, "/messages", {"content": str(data.get("content") or "")})


@router.post("/{session_id}/confirm")
async def confirm(session_id: str, request: Request, page: Page = Depends(signed_in)
                  ) -> Response:
    await form(request)
    return await _act(page, session_id, "/confirm", done="spec_confirmed")


@router.post("/{session_id}/wording")
async def wording(session_id: str, request: Request, page: Page = Depends(signed_in)
                  ) -> Response:
    await form(request)
    return await _act(page, session_id, "/wording", done="spec_worded")


@router.post("/{session_id}/generate")
async def generate(session_id: str, request: Request, page: Page = Depends(signed_in)
                   ) -> Response:
    await form(request)
    return await _act(page, session_id, "/generate", done="generated")


@router.post("/{session_id}/builds/{build_id}/publish")
async def publish(session_id: str, build_id: str, request: Request,
                  page: Page = Depends(signed_in)) -> Response:
    await form(request)
    return await _act(page, session_id, f"/builds/{quote(build_id, safe='')}/publish",
                      done="published")


@router.get("/{session_id}/builds/{build_id}/download")
async def download(session_id: str, build_id: str, page: Page = Depends(signed_in)
                   ) -> Response:
    answer = await page.api.call(
        "GET", _session(session_id) + f"/builds/{quote(build_id, safe='')}/download")
    if answer.status_code >= 400:
        raise ApiError(answer.status_code, answer.text[:300])
    headers = {k: v for k, v in answer.headers.items() if k == "content-disposition"}
    return Response(answer.content, media_type=answer.headers.get("content-type"),
                    headers=headers)
