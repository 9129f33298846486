"""The assessment report as a Word document (python-docx), with the radar chart as a PNG.

Same content and order as the HTML report, so either can be handed to a manager. Word
escapes text itself; the chart is drawn with Pillow (labels fall back to English when the
machine has no CJK font, rather than printing boxes).
"""

from __future__ import annotations

import io
import re

from docx import Document
from docx.shared import Cm

from maas.toolbox.diagnosis.assessment import Assessment
from maas.toolbox.diagnosis.common import check_language, fmt, fmt2
from maas.toolbox.diagnosis.matching import Match, all_citations
from maas.toolbox.diagnosis.narrative import Narrative
from maas.toolbox.diagnosis.radar import radar_png
from maas.toolbox.diagnosis.report_text import LABELS, citation_label, narrative_note

_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text Word can store: XML forbids most control characters (python-docx raises)."""
    return _XML_INVALID.sub("", text)


def _table(doc, header: list[str], rows: list[list[str]]) -> None:  # noqa: ANN001
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = _x(text)
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = _x(text)


def render_docx(assessment: Assessment, narrative: Narrative | None, matches: list[Match], *,
                company: str, language: str) -> bytes:
    """The full report as DOCX bytes in `language` ("zh" or "en")."""
    lang = check_language(language)
    t = LABELS[lang]
    a = assessment
    doc = Document()
    company = _x(company)
    doc.core_properties.title = f"{t['title']} - {company}"[:250]
    doc.add_heading(t["title"], level=0)
    doc.add_paragraph(company).runs[0].bold = True
    doc.add_paragraph(f"{a.questionnaire_title.get(lang)} ({a.questionnaire_id} "
                      f"v{a.questionnaire_version})")
    p = doc.add_paragraph()
    p.add_run(f"{a.level_name.get(lang)}").bold = True
    p.add_run(f"  {t['total']}: {fmt2(a.total)} / 100")
    if a.level_description:
        doc.add_paragraph(a.level_description.get(lang))

    doc.add_heading(t["summary"], level=1)
    if narrative is not None:
        doc.add_paragraph(_x(narrative.summary))
        doc.add_paragraph(narrative_note(narrative, lang)).runs[0].italic = True

    doc.add_heading(t["radar"], level=1)
    png = radar_png([d.name.get(lang) for d in a.dimensions],
                    [float(d.score) for d in a.dimensions],
                    fallback_labels=[d.name.en for d in a.dimensions])
    doc.add_picture(io.BytesIO(png), width=Cm(12))

    doc.add_heading(t["scores"], level=1)
    _table(doc, [t["dimension"], t["weight"], t["score"], t["level"]],
           [[d.name.get(lang), fmt(d.weight), fmt2(d.score), str(d.level)]
            for d in a.dimensions] + [[t["total"], "1", fmt2(a.total), str(a.level)]])
    doc.add_paragraph()
    names = {d.id: d.name.get(lang) for d in a.dimensions}
    _table(doc, [t["dimension"], t["indicator"], t["weight"], t["score"], t["level"]],
           [[names.get(i.dimension, i.dimension),
             i.name.get(lang) + (f" ({t['key']})" if i.key else ""), fmt(i.weight),
             fmt2(i.score), str(i.level)] for i in a.indicators])
    doc.add_heading(t["level_decision"], level=2)
    for step in a.level_steps:
        doc.add_paragraph(step.reason.get(lang), style="List Number")

    doc.add_heading(t["weaknesses"], level=1)
    comments = {c.id: _x(c.text) for c in narrative.comments} if narrative else {}
    if not a.weaknesses:
        doc.add_paragraph(f"{t['no_weaknesses']} ({fmt(a.weakness_threshold)})")
    else:
        _table(doc, [t["item"], t["score"], t["actions"]],
               [[w.name.get(lang) + (f" ({t['key']})" if w.key else ""), fmt2(w.score),
                 " ".join(x for x in ((w.action.get(lang) if w.action else ""),
                                      comments.get(w.id, "")) if x)]
                for w in a.weaknesses])

    doc.add_heading(t["support"], level=1)
    for m in matches:
        doc.add_heading(m.title.get(lang), level=2)
        for product in m.products:
            doc.add_paragraph(f"{product.name.get(lang)}: {product.description.get(lang)}",
                              style="List Bullet")
        refs = " ".join(f"[{c.number}]" for c in m.citations) or t["none"]
        doc.add_paragraph(f"{t['sources']}: {refs}")
    cites = all_citations(matches)
    if cites:
        doc.add_heading(t["references"], level=2)
        for c in cites:
            para = doc.add_paragraph()
            para.add_run(_x(citation_label(c, lang))).bold = True
            para.add_run("\n" + _x(c.snippet))

    doc.add_heading(t["explanation"], level=1)
    for line in a.explanation:
        doc.add_paragraph(line.get(lang), style="List Number")
    doc.add_heading(t["answers"], level=1)
    _table(doc, ["ID", t["question"], t["answer"], t["points"]],
           [[q.id, q.text.get(lang),
             (q.answer_text.get(lang) if q.answer_text else t["unanswered"])
             + (f" ({t['evidence']}: {_x(q.evidence)})" if q.evidence else ""), fmt(q.points)]
            for q in a.questions])
    doc.add_paragraph(f"{t['framework']}: {a.framework.get(lang)}").runs[0].italic = True
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
