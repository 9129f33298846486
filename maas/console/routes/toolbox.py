"""Toolbox: thing-model generation, protocol-parser builds, the digital-level diagnosis."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from maas.console.client import ApiError
from maas.console.web import Page, form, signed_in

router = APIRouter(prefix="/console/toolbox", include_in_schema=False)
QUESTIONNAIRE = "sme-digital-level-2024"


async def _page(page: Page, status: int = 200, **result: Any) -> Response:
    parsers = (await page.api.get("/v1/tools/protocol-parsers"))["data"]
    assessments = (await page.api.get("/v1/tools/diagnosis/assessments"))["data"]
    questionnaire = await page.api.get(f"/v1/tools/diagnosis/questionnaires/{QUESTIONNAIRE}")
    return page.render("toolbox.html", status=status, parsers=parsers[:10],
                       assessments=assessments[:10], questionnaire=questionnaire,
                       result=result)


@router.get("")
async def toolbox(page: Page = Depends(signed_in)) -> Response:
    return await _page(page)


async def _attempt(page: Page, tool: str, method: str, path: str, body: dict[str, Any]
                   ) -> Response:
    try:
        answer = await page.api.send(method, path, json=body)
    except ApiError as exc:
        return await _page(page, status=exc.status, tool=tool, error=exc.message)
    return await _page(page, status=201, tool=tool, answer=answer)


@router.post("/thing-model")
async def thing_model(request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    return await _attempt(page, "thing_model", "POST", "/v1/tools/thing-models/generate", {
        "text": str(data.get("text", "")), "name": str(data.get("name") or "") or None,
        "use_model": data.get("use_model") == "on", "save": data.get("save") == "on"})


@router.post("/parser")
async def parser(request: Request, page: Page = Depends(signed_in)) -> Response:
    data = await form(request)
    return await _attempt(page, "parser", "POST", "/v1/tools/protocol-parsers", {
        "source": {"filename": str(data.get("filename", "")),
                   "content": str(data.get("content", ""))}})


def _answers(questionnaire: dict[str, Any], data: FormData) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for dimension in questionnaire["dimensions"]:
        for indicator in dimension["indicators"]:
            for q in indicator["questions"]:
                name, kind = q["id"], q["type"]
                if kind == "multi":
                    answers[name] = data.getlist(name)
                elif kind == "boolean":
                    answers[name] = data.get(name) == "yes"
                elif str(data.get(name) or "").strip():
                    raw = str(data.get(name))
                    try:
                        answers[name] = float(raw) if kind == "number" else raw
                    except ValueError:
                        answers[name] = raw  # the API names the bad answer
    return answers


@router.post("/diagnosis")
async def diagnosis(request: Request, page: Page = Depends(signed_in)) -> Response:
    await form(request)
    data = await request.form()
    questionnaire = await page.api.get(f"/v1/tools/diagnosis/questionnaires/{QUESTIONNAIRE}")
    return await _attempt(page, "diagnosis", "POST", "/v1/tools/diagnosis/assessments", {
        "questionnaire": QUESTIONNAIRE, "answers": _answers(questionnaire, data),
        "company": str(data.get("company", "")), "language": page.lang,
        "use_model": data.get("use_model") == "on", "knowledge_bases": []})


@router.get("/diagnosis/{assessment_id}/report.{fmt}")
async def report(assessment_id: str, fmt: str, page: Page = Depends(signed_in)) -> Response:
    """The assessment's report (HTML to read, DOCX to download), fetched with the session."""
    answer = await page.api.call(
        "GET", f"/v1/tools/diagnosis/assessments/{quote(assessment_id, safe='')}/report."
               f"{quote(fmt, safe='')}")
    if answer.status_code >= 400:
        raise ApiError(answer.status_code, answer.text[:300])
    headers = {k: v for k, v in answer.headers.items() if k == "content-disposition"}
    return Response(answer.content, media_type=answer.headers.get("content-type"),
                    headers=headers)


@router.get("/parsers/{parser_id}/download")
async def download(parser_id: str, page: Page = Depends(signed_in)) -> Response:
    answer = await page.api.call(
        "GET", f"/v1/tools/protocol-parsers/{quote(parser_id, safe='')}/download")
    if answer.status_code >= 400:
        raise ApiError(answer.status_code, answer.text[:300])
    headers = {k: v for k, v in answer.headers.items() if k == "content-disposition"}
    return Response(answer.content, media_type=answer.headers.get("content-type"),
                    headers=headers)
