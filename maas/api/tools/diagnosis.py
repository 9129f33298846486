"""`/v1/tools/diagnosis`: the digital-transformation diagnosis, questionnaire -> scored
assessment -> report (HTML or DOCX), with a tenant's history and comparisons.

Scores come from the questionnaire's rules alone; the model chosen writes the narrative
and the digital-transformation knowledge base supplies the matched policies with
citations. If that knowledge base is not built yet the report says so instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import principal, services
from maas.api.tools.calls import tool_model_call
from maas.errors import NotFound, ServiceUnavailable
from maas.services import Services
from maas.tenancy.principal import Principal
from maas.toolbox.assessments import Search, assessment_view

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/tools/diagnosis", tags=["toolbox"])
TOOL = "diagnosis"
SUPPORT_KB = "sme-digital-transformation"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questionnaire: str = Field(default="sme-digital-level-2024", max_length=64)
    answers: dict[str, Any]


class AssessBody(ScoreBody):
    company: str = Field(min_length=1, max_length=200)
    language: Literal["zh", "en"] = "zh"
    model: str | None = Field(default=None, max_length=128)
    use_model: bool = True
    knowledge_bases: list[str] = Field(default_factory=lambda: [SUPPORT_KB], max_length=5)


def _dump(obj: Any) -> Any:
    return obj.model_dump(mode="json") if hasattr(obj, "model_dump") else obj


def knowledge_search(svc: Services, who: Principal, kb_ids: list[str]) -> Search:
    """Search the given bases; one that is missing or still building is left out."""

    async def search(query: str, top_k: int) -> list[dict[str, Any]]:
        hits: list[dict[str, Any]] = []
        for kb_id in kb_ids:
            try:
                hits += await svc.knowledge.search(who, [kb_id], query, top_k)
            except (NotFound, ServiceUnavailable) as exc:
                log.info("diagnosis: knowledge base %s skipped: %s", kb_id, exc.message)
        return sorted(hits, key=lambda h: -h["score"])[:top_k]

    return search


@router.get("/questionnaires")
async def questionnaires(who: Principal = Depends(principal),
                         svc: Services = Depends(services)) -> dict[str, Any]:
    return {"object": "list", "data": [_dump(q) for q in svc.toolbox.assessments.questionnaires()]}


@router.get("/questionnaires/{questionnaire_id}")
async def questionnaire(questionnaire_id: str, who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    return _dump(svc.toolbox.assessments.questionnaire(questionnaire_id))


@router.post("/score")
async def score(body: ScoreBody, who: Principal = Depends(principal),
                svc: Services = Depends(services)) -> dict[str, Any]:
    """The deterministic scores and their explanation, without a report or a model call."""
    result = svc.toolbox.assessments.score(body.questionnaire, body.answers)
    return {"object": "assessment.score", "questionnaire": body.questionnaire,
            "result": _dump(result)}


@router.post("/assessments", status_code=201)
async def assess(body: AssessBody, request: Request, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    assessments = svc.toolbox.assessments
    assessments.score(body.questionnaire, body.answers)  # 400 before anything else
    model_id = body.model or svc.settings.tool_model
    call = tool_model_call(svc, request, who, model_id, TOOL) if body.use_model else None
    kb_ids = list(dict.fromkeys(body.knowledge_bases))
    for kb_id in kb_ids:  # 404 for a base the caller cannot read, before any work
        await asyncio.to_thread(svc.knowledge.get, who, kb_id)
    row = await assessments.assess(
        who, body.questionnaire, body.answers, company=body.company, language=body.language,
        model=model_id if body.use_model else None, call=call,
        search=knowledge_search(svc, who, kb_ids) if kb_ids else None)
    return assessment_view(row)


@router.get("/assessments")
async def list_assessments(limit: int = Query(default=50, ge=1, le=200),
                           who: Principal = Depends(principal),
                           svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.toolbox.assessments.list, who, limit)
    return {"object": "list", "data": [assessment_view(r, full=False) for r in rows]}


@router.get("/compare")
async def compare(a: str = Query(max_length=64), b: str = Query(max_length=64),
                  who: Principal = Depends(principal),
                  svc: Services = Depends(services)) -> dict[str, Any]:
    return await asyncio.to_thread(svc.toolbox.assessments.compare, who, a, b)


@router.get("/assessments/{assessment_id}")
async def show(assessment_id: str, who: Principal = Depends(principal),
               svc: Services = Depends(services)) -> dict[str, Any]:
    return assessment_view(await asyncio.to_thread(svc.toolbox.assessments.get, who,
                                                   assessment_id))


@router.get("/assessments/{assessment_id}/report.{fmt}")
async def report(assessment_id: str, fmt: Literal["html", "docx"],
                 who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> Response:
    body = await asyncio.to_thread(svc.toolbox.assessments.render, who, assessment_id, fmt)
    if fmt == "html":
        return Response(body, media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "img-src data:"})
    return Response(body, media_type=DOCX, headers={
        "Content-Disposition": f'attachment; filename="{assessment_id}.docx"'})
