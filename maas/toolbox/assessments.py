"""Transformation assessments for tenants: score, match support, narrate, keep, compare.

Scoring is deterministic and runs first, so bad answers are refused before any model is
called or anything is written. The numbers stored (and shown in every report) are the
scorer's; the model writes only the narrative, and when it cannot, the report says the
narrative is the built-in one. Reports are rendered from the stored row on request, so a
report can be downloaded again, as HTML or DOCX, without calling a model.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select

from maas.db.database import Database
from maas.db.tables import AssessmentRecord
from maas.errors import InvalidRequest, NotFound
from maas.tenancy.audit import record
from maas.tenancy.principal import Principal
from maas.toolbox.diagnosis import matching, narrative, report, scoring
from maas.toolbox.diagnosis.questionnaire import list_questionnaires, load_questionnaire

log = logging.getLogger(__name__)

MAX_LIST = 200
#: (query, top_k) -> knowledge-base hits, as the knowledge service returns them.
Search = Callable[[str, int], Awaitable[list[dict[str, Any]]]]
ModelCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def assessment_view(a: AssessmentRecord, full: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": a.id, "object": "assessment", "questionnaire": a.questionnaire,
        "company": a.company, "language": a.language, "model": a.model,
        "total": a.total, "level": a.level, "created_by": a.created_by,
        "created_at": a.created_at,
        "report": {"html": f"/v1/tools/diagnosis/assessments/{a.id}/report.html",
                   "docx": f"/v1/tools/diagnosis/assessments/{a.id}/report.docx"}}
    if full:
        view.update(answers=a.answers, result=a.result, matches=a.matches,
                    narrative=a.narrative)
    return view


class Assessments:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def questionnaires() -> list[Any]:
        return list_questionnaires()

    @staticmethod
    def questionnaire(questionnaire_id: str) -> Any:
        return load_questionnaire(questionnaire_id)  # unknown: QuestionnaireNotFound, a 404

    def score(self, questionnaire_id: str, answers: dict[str, Any]) -> Any:
        """The deterministic scores; bad answers raise with every problem named."""
        return scoring.score_assessment(self.questionnaire(questionnaire_id), answers)

    async def assess(self, who: Principal, questionnaire_id: str, answers: dict[str, Any], *,
                     company: str, language: str, model: str | None,
                     call: ModelCall | None, search: Search | None) -> AssessmentRecord:
        result = self.score(questionnaire_id, answers)
        matches: list[matching.Match] = []
        if search is not None:
            matches = await matching.match_support(result, search=search)
        story = await narrative.write_narrative(
            result, matches, call=call if model else None, model=model or "",
            language=language)
        row = AssessmentRecord(
            id="asm_" + secrets.token_hex(8), tenant_id=who.tenant_id,
            questionnaire=questionnaire_id, company=company[:200], language=language,
            model=model, answers=answers, result=result.model_dump(mode="json"),
            matches=[m.model_dump(mode="json") for m in matches],
            narrative=story.model_dump(mode="json"), total=float(result.total),
            level=result.level, created_by=who.actor)
        with self.db.session(write=True) as s:
            s.add(row)
            s.flush()
            record(s, who, "assessment.create", "assessment", row.id, who.tenant_id,
                   questionnaire=questionnaire_id, level=row.level)
        return row

    def get(self, who: Principal, assessment_id: str) -> AssessmentRecord:
        with self.db.session() as s:
            row = s.get(AssessmentRecord, assessment_id)
        if row is None or row.tenant_id != who.tenant_id:
            raise NotFound(f"assessment {assessment_id!r} not found", param="assessment_id")
        return row

    def list(self, who: Principal, limit: int = 50) -> list[AssessmentRecord]:
        with self.db.session() as s:
            statement = (select(AssessmentRecord)
                         .where(AssessmentRecord.tenant_id == who.tenant_id)
                         .order_by(col(AssessmentRecord.created_at).desc())
                         .limit(min(max(limit, 1), MAX_LIST)))
            return list(s.exec(statement))

    def compare(self, who: Principal, first: str, second: str) -> dict[str, Any]:
        a, b = self.get(who, first), self.get(who, second)
        if a.questionnaire != b.questionnaire:
            raise InvalidRequest(f"{first} answers {a.questionnaire!r} and {second} answers "
                                 f"{b.questionnaire!r}; only assessments of one "
                                 "questionnaire can be compared", param="b")
        comparison = scoring.compare_assessments(_rebuild(a), _rebuild(b))
        return {"object": "assessment.comparison", "a": assessment_view(a, full=False),
                "b": assessment_view(b, full=False),
                "comparison": comparison.model_dump(mode="json")}

    def render(self, who: Principal, assessment_id: str, fmt: str) -> bytes:
        row = self.get(who, assessment_id)
        result = _rebuild(row)
        story = narrative.Narrative.model_validate(row.narrative)
        matches = [matching.Match.model_validate(m) for m in row.matches]
        if fmt == "html":
            return report.render_html(result, story, matches, company=row.company,
                                      language=row.language).encode("utf-8")
        if fmt == "docx":
            return report.render_docx(result, story, matches, company=row.company,
                                      language=row.language)
        raise InvalidRequest(f"unknown report format {fmt!r}; use html or docx", param="format")


def _rebuild(row: AssessmentRecord) -> scoring.Assessment:
    return scoring.Assessment.model_validate(row.result)
