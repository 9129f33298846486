"""Diagnosis support, narrative and reports: matching with a fake search, the narrative's
fallback when the model fails or talks nonsense, the HTML report (radar vertices at
hand-computed coordinates, escaping, citations) and the DOCX report."""

from __future__ import annotations

import io
import re
from typing import Any

import docx
import pytest

from maas.toolbox.diagnosis import matching, narrative, report
from maas.toolbox.diagnosis.assessment import Assessment
from maas.toolbox.diagnosis.questionnaire import load_questionnaire, parse_questionnaire
from maas.toolbox.diagnosis.radar import radar_svg
from maas.toolbox.diagnosis.scoring import score_assessment
from tests.unit.test_diagnosis import CAPPED_ANSWERS, mini

EXAMPLE_ANSWERS = {
    "equipment_digital_share": 65, "equipment_data_collection": "partial",
    "shopfloor_network": "patchy", "cloud_systems": ["erp", "collaboration"],
    "material_coding": "unified", "bom_accuracy": 92, "backup_practice": "scheduled",
    "security_controls": ["accounts", "endpoint"], "design_tools": "pdm",
    "work_reporting": "paper_keyed", "scheduling": "erp_orders", "quality_records": "paper",
    "inventory_management": "erp", "inventory_accuracy": 88, "order_management": "erp_sales",
    "finance_integration": "separate_module", "digital_plan": "written",
    "digital_investment": 0.9, "digital_lead": "dedicated", "digital_training": False,
    "management_reporting": "system_reports", "on_time_delivery": 86, "kpi_tracking": "basic",
    "verified_improvements": ["lead_time"]}


def _hit(doc: str, chunk: int, text: str, page: int | None = None) -> dict[str, Any]:
    return {"document_id": f"doc-{doc}", "document": doc, "page": page, "section": "政策",
            "kind": "text", "chunk": chunk, "start": 0, "end": len(text), "text": text,
            "score": 0.5, "knowledge_base": "sme-digital-transformation"}


class FakeSearch:
    def __init__(self, hits: list[dict[str, Any]] | None = None, fail: bool = False) -> None:
        self.queries: list[tuple[str, int]] = []
        self.hits = hits or []
        self.fail = fail

    async def __call__(self, query: str, top_k: int) -> list[dict[str, Any]]:
        self.queries.append((query, top_k))
        if self.fail:
            raise RuntimeError("index is being rebuilt")
        return self.hits


@pytest.fixture
def example() -> Assessment:
    return score_assessment(load_questionnaire("sme-digital-level-2024"), EXAMPLE_ANSWERS)


@pytest.fixture
def capped() -> Assessment:
    return score_assessment(parse_questionnaire(mini()), CAPPED_ANSWERS)


async def test_matching_dedupes_hits_and_cites_them(example: Assessment) -> None:
    same = _hit("policy-instruments-subsidies-zh.html", 3, "云服务券抵扣服务费的 50%。", page=2)
    other = _hit("transformation-roadmap-en.md", 7, "ERP usually comes first.")
    search = FakeSearch([same, other, dict(same)])
    matches = await matching.match_support(example, search=search, top_k=4)
    # five weakest indicators, then the policy query
    assert [m.target for m in matches] == ["benefits_innovation", "organisation_talent",
                                          "production_control", "finance_costing",
                                          "security", "policy"]
    assert len(search.queries) == 6 and all(k == 4 for _, k in search.queries)
    assert "效益与创新" in search.queries[0][0] and "Benefits" in search.queries[0][0]
    assert "补助" in search.queries[-1][0]
    # the same chunk found by every query is cited once, numbered in first-seen order
    cites = matching.all_citations(matches)
    assert [(c.number, c.document, c.page) for c in cites] == [
        (1, "policy-instruments-subsidies-zh.html", 2), (2, "transformation-roadmap-en.md", None)]
    assert cites[0].snippet == "云服务券抵扣服务费的 50%。"
    assert matches[1].citations == [] and matches[-1].citations == []
    by_target = {m.target: [p.id for p in m.products] for m in matches}
    assert "mes" in by_target["production_control"]
    assert by_target["security"] == ["security_services"]


async def test_matching_still_gives_products_when_search_fails(example: Assessment) -> None:
    matches = await matching.match_support(example, search=FakeSearch(fail=True))
    assert all(m.citations == [] for m in matches)
    assert all(m.products for m in matches if m.kind == "weakness")


async def test_every_indicator_of_the_shipped_questionnaire_has_products() -> None:
    categories = matching.load_categories()
    for indicator in load_questionnaire("sme-digital-level-2024").indicators():
        assert matching.products_for(indicator.id, categories), indicator.id


def _reply(text: str) -> Any:
    async def call(payload: dict[str, Any]) -> dict[str, Any]:
        call.payloads.append(payload)  # type: ignore[attr-defined]
        return {"choices": [{"message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}]}
    call.payloads = []  # type: ignore[attr-defined]
    return call


async def test_narrative_uses_the_model_but_drops_invented_numbers(example: Assessment) -> None:
    call = _reply("SUMMARY: The company is rated Level 2 with a total of 46.23. "
                  "Its OEE is 97 percent. Results are the weakest dimension.\n"
                  "- production_control: Move job reporting to barcode terminals first.\n"
                  "- security: 42")
    story = await narrative.write_narrative(example, [], call=call, model="smollm2",
                                            language="en")
    assert story.generated_by == "model" and story.model == "smollm2"
    assert story.summary == ("The company is rated Level 2 with a total of 46.23. "
                             "Results are the weakest dimension.")
    comments = {c.id: c for c in story.comments}
    assert comments["production_control"].source == "model"
    assert comments["security"].source == "template"  # too short to be advice
    assert story.fallback  # part of it is the template
    payload = call.payloads[0]
    assert payload["model"] == "smollm2" and payload["max_tokens"] <= 600
    assert payload["temperature"] <= 0.3
    assert "46.23" in payload["messages"][1]["content"]


@pytest.mark.parametrize("content", ["", "   ", "!!!! ???? ....", "the the the the the the the "
                                     "the the the the the the", None])
async def test_narrative_falls_back_on_garbage(example: Assessment, content: Any) -> None:
    story = await narrative.write_narrative(example, [], call=_reply(content), model="m",
                                            language="en")
    assert story.generated_by == "fallback" and story.fallback
    assert story.summary.startswith("The total score is 46.23, rated Level 2.")
    assert all(c.source == "template" for c in story.comments)


async def test_narrative_falls_back_when_the_call_raises(capped: Assessment) -> None:
    async def broken(payload: dict[str, Any]) -> dict[str, Any]:
        raise TimeoutError("upstream timed out")

    story = await narrative.write_narrative(capped, [], call=broken, model="m", language="zh")
    assert story.generated_by == "fallback"
    assert "TimeoutError" in (story.reason or "")
    assert story.summary.startswith("综合得分 75.58 分，评定为一级（已按短板或关键项规则调整）")
    assert story.comments[0].text.startswith("丙一得分 37.50。下一步：丙一：达到2级")


async def test_narrative_in_the_wrong_language_falls_back(capped: Assessment) -> None:
    story = await narrative.write_narrative(
        capped, [], call=_reply("The company is doing fine and should keep going."),
        model="m", language="zh")
    assert story.generated_by == "fallback"


async def test_narrative_refuses_an_unknown_language(capped: Assessment) -> None:
    with pytest.raises(ValueError, match="language"):
        await narrative.write_narrative(capped, [], call=_reply("x"), model="m", language="fr")


def test_radar_svg_vertices_at_hand_computed_coordinates() -> None:
    svg = radar_svg(["A", "B", "C", "D"], [50, 100, 25, 0])
    # size 400, margin 80: centre (200, 200), radius 120. Axes: up, right, down, left.
    # 50 up -> (200, 200 - 60); 100 right -> (320, 200); 25 down -> (200, 230); 0 -> centre
    points = re.search(r'class="radar-values" points="([^"]+)"', svg).group(1)
    assert points == "200.00,140.00 320.00,200.00 200.00,230.00 200.00,200.00"
    assert svg.count('class="radar-vertex"') == 4


def test_html_report(capped: Assessment) -> None:
    story = narrative.Narrative(language="en", summary="Summary <b>bold</b> & more",
                                comments=[], generated_by="model", fallback=False, model="m")
    match = matching.Match(
        kind="policy", target="policy", title=matching.Text(zh="政策", en="Policy"),
        citations=[matching.Citation(number=1, document="policy<x>.html", page=3,
                                     snippet="Vouchers pay 50%")])
    html = report.render_html(capped, story, [match],
                              company="<script>alert('x')</script> ACME", language="en")
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)" in html
    assert "Summary &lt;b&gt;bold&lt;/b&gt; &amp; more" in html
    assert 'data-level="1">Level 1</span>' in html and ">75.58</strong>" in html
    # three dimensions: axes at -90, 30 and 150 degrees, radius 120 around (200, 200)
    # a 73.5 -> (200, 200 - 88.2) = (200, 111.8)
    # b 100  -> (200 + 120*0.8660254, 200 + 120*0.5) = (303.92, 260)
    # c 37.5 -> radius 45: (200 - 45*0.8660254, 200 + 45*0.5) = (161.03, 222.5)
    points = re.search(r'class="radar-values" points="([^"]+)"', html).group(1)
    assert points == "200.00,111.80 303.92,260.00 161.03,222.50"
    assert html.count('class="radar-vertex"') == 3
    assert 'id="src-1"' in html and "[1] policy&lt;x&gt;.html · p. 3" in html
    assert "Vouchers pay 50%" in html and 'href="#src-1">[1]</a>' in html
    assert 'data-rule="key_indicator:c1"' in html
    assert "C one = 0.75×50 + 0.25×0 = 37.50" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


async def test_docx_report(example: Assessment) -> None:
    matches = await matching.match_support(
        example, search=FakeSearch([_hit("roadmap.md", 1, "Fix the data foundation\x0b first.")]))
    story = await narrative.write_narrative(example, matches, call=_reply(""), model="m",
                                            language="zh")
    data = report.render_docx(example, story, matches, company="华东精密\x00 <ACME>",
                              language="zh")
    doc = docx.Document(io.BytesIO(data))
    assert len(doc.inline_shapes) == 1
    images = [r.target_part.blob for r in doc.part.rels.values() if "image" in r.reltype]
    assert len(images) == 1 and images[0].startswith(b"\x89PNG\r\n\x1a\n")
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "华东精密 <ACME>" in text and "二级" in text and "46.23" in text
    assert "[1] roadmap.md" in text and "Fix the data foundation first." in text
    cells = [[c.text for c in row.cells] for t in doc.tables for row in t.rows]
    assert ["数字化基础", "0.25", "51.63", "2"] in cells
    assert ["综合得分", "1", "46.23", "2"] in cells
