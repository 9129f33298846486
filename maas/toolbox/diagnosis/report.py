"""The assessment report as one self-contained, printable HTML page (and DOCX, see
`report_docx`).

Every number printed comes from the Assessment; the narrative is shown with a note saying
whether the model or the built-in template wrote it. All user-supplied and model text is
escaped; the page loads nothing from outside (inline CSS, inline SVG chart).
"""

from __future__ import annotations

from html import escape

from maas.toolbox.diagnosis.assessment import Assessment
from maas.toolbox.diagnosis.common import check_language, fmt, fmt2
from maas.toolbox.diagnosis.matching import Match, all_citations
from maas.toolbox.diagnosis.narrative import Narrative
from maas.toolbox.diagnosis.radar import radar_svg
from maas.toolbox.diagnosis.report_docx import render_docx
from maas.toolbox.diagnosis.report_text import LABELS, citation_label, narrative_note

__all__ = ["radar_svg", "render_docx", "render_html"]

CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",Arial,sans-serif;
margin:2em auto;max-width:960px;color:#1d2330;line-height:1.5;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #2f6fdf;padding-bottom:.2em;
margin-top:1.6em}table{border-collapse:collapse;width:100%;margin:.6em 0}
th,td{border:1px solid #d5d9e0;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f1f4f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;background:#2f6fdf;color:#fff;border-radius:8px;padding:.4em .9em;
font-size:1.3em;font-weight:bold}.muted{color:#5c6575;font-size:.9em}
.summary{background:#f7f9fc;border-left:4px solid #2f6fdf;padding:.6em 1em}
.chart{text-align:center}.key{color:#b3261e;font-weight:bold}
ol.sources li{margin-bottom:.4em}@media print{h2{page-break-after:avoid}}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def render_html(assessment: Assessment, narrative: Narrative | None, matches: list[Match], *,
                company: str, language: str) -> str:
    """The full report page in `language` ("zh" or "en")."""
    lang = check_language(language)
    t = LABELS[lang]
    a = assessment
    out = [f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head>'
           '<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
           f"<title>{_e(t['title'])} - {_e(company)}</title><style>{CSS}</style></head><body>"]
    out.append(f"<h1>{_e(t['title'])}</h1><p><strong>{_e(company)}</strong><br>"
               f"<span class=\"muted\">{_e(a.questionnaire_title.get(lang))} "
               f"({_e(a.questionnaire_id)} v{_e(a.questionnaire_version)})</span></p>")
    out.append(f'<p><span class="badge level-badge" data-level="{a.level}">'
               f"{_e(a.level_name.get(lang))}</span> &nbsp; {_e(t['total'])}: "
               f'<strong class="total">{fmt2(a.total)}</strong> / 100</p>')
    if a.level_description:
        out.append(f"<p>{_e(a.level_description.get(lang))}</p>")
    out.append(f"<h2>{_e(t['summary'])}</h2>")
    if narrative is not None:
        out.append(f'<div class="summary">{_e(narrative.summary)}</div>'
                   f'<p class="muted narrative-source">{_e(narrative_note(narrative, lang))}</p>')
    out.append(f"<h2>{_e(t['radar'])}</h2><div class=\"chart\">")
    out.append(radar_svg([d.name.get(lang) for d in a.dimensions],
                         [float(d.score) for d in a.dimensions], title=t["radar"]))
    out.append("</div>")
    out.extend(_scores(a, lang))
    out.extend(_weaknesses(a, narrative, matches, lang))
    out.extend(_support(matches, lang))
    out.append(f"<h2>{_e(t['explanation'])}</h2><ol class=\"explanation\">")
    out.extend(f"<li>{_e(line.get(lang))}</li>" for line in a.explanation)
    out.append("</ol>")
    out.extend(_answers(a, lang))
    out.append(f"<p class=\"muted\">{_e(t['framework'])}: {_e(a.framework.get(lang))}</p>"
               "</body></html>")
    return "".join(out)


def _scores(a: Assessment, lang: str) -> list[str]:
    t = LABELS[lang]
    out = [f"<h2>{_e(t['scores'])}</h2><table class=\"dimensions\"><tr>"
           f"<th>{_e(t['dimension'])}</th><th>{_e(t['weight'])}</th><th>{_e(t['score'])}</th>"
           f"<th>{_e(t['level'])}</th></tr>"]
    for d in a.dimensions:
        out.append(f'<tr data-id="{_e(d.id)}"><td>{_e(d.name.get(lang))}</td>'
                   f'<td class="num">{fmt(d.weight)}</td><td class="num">{fmt2(d.score)}</td>'
                   f'<td class="num">{d.level}</td></tr>')
    out.append(f'<tr><th>{_e(t["total"])}</th><td class="num">1</td>'
               f'<td class="num"><strong>{fmt2(a.total)}</strong></td>'
               f'<td class="num">{a.level}</td></tr></table>')
    out.append(f"<table class=\"indicators\"><tr><th>{_e(t['dimension'])}</th>"
               f"<th>{_e(t['indicator'])}</th><th>{_e(t['weight'])}</th>"
               f"<th>{_e(t['score'])}</th><th>{_e(t['level'])}</th></tr>")
    names = {d.id: d.name.get(lang) for d in a.dimensions}
    for i in a.indicators:
        key = f' <span class="key">{_e(t["key"])}</span>' if i.key else ""
        out.append(f'<tr data-id="{_e(i.id)}"><td>{_e(names.get(i.dimension, i.dimension))}'
                   f"</td><td>{_e(i.name.get(lang))}{key}</td><td class=\"num\">{fmt(i.weight)}"
                   f'</td><td class="num">{fmt2(i.score)}</td><td class="num">{i.level}</td></tr>')
    out.append(f"</table><h3>{_e(t['level_decision'])}</h3><ol class=\"level-steps\">")
    out.extend(f'<li data-rule="{_e(s.rule)}">{_e(s.reason.get(lang))}</li>'
               for s in a.level_steps)
    out.append("</ol>")
    return out


def _weaknesses(a: Assessment, narrative: Narrative | None, matches: list[Match],
                lang: str) -> list[str]:
    t = LABELS[lang]
    comments = {c.id: c.text for c in narrative.comments} if narrative else {}
    out = [f"<h2>{_e(t['weaknesses'])}</h2>"]
    if not a.weaknesses:
        return out + [f"<p>{_e(t['no_weaknesses'])} ({fmt(a.weakness_threshold)})</p>"]
    out.append(f"<p class=\"muted\">{_e(t['threshold'])} {fmt(a.weakness_threshold)}</p>"
               f"<table class=\"weaknesses\"><tr><th>{_e(t['item'])}</th>"
               f"<th>{_e(t['score'])}</th><th>{_e(t['actions'])}</th></tr>")
    for w in a.weaknesses:
        key = f' <span class="key">{_e(t["key"])}</span>' if w.key else ""
        kind = "" if w.kind == "indicator" else f" ({_e(t['dimension'])})"
        body = _e(w.action.get(lang)) if w.action else ""
        if w.id in comments:
            body += f'<br><span class="comment">{_e(comments[w.id])}</span>'
        out.append(f'<tr data-id="{_e(w.id)}"><td>{_e(w.name.get(lang))}{kind}{key}</td>'
                   f'<td class="num">{fmt2(w.score)}</td><td>{body}</td></tr>')
    out.append("</table>")
    return out


def _support(matches: list[Match], lang: str) -> list[str]:
    t = LABELS[lang]
    out = [f"<h2>{_e(t['support'])}</h2>"]
    if not matches:
        return out + [f"<p>{_e(t['no_support'])}</p>"]
    for m in matches:
        refs = " ".join(f'<a href="#src-{c.number}">[{c.number}]</a>' for c in m.citations)
        out.append(f'<h3 data-target="{_e(m.target)}">{_e(m.title.get(lang))}</h3>')
        if m.products:
            out.append("<ul class=\"products\">" + "".join(
                f"<li><strong>{_e(p.name.get(lang))}</strong>: {_e(p.description.get(lang))}"
                "</li>" for p in m.products) + "</ul>")
        out.append(f"<p>{_e(t['sources'])}: {refs or _e(t['none'])}</p>")
    cites = all_citations(matches)
    if cites:
        out.append(f"<h3>{_e(t['references'])}</h3><ol class=\"sources\">")
        out.extend(f'<li id="src-{c.number}" value="{c.number}">'
                   f"<strong>{_e(citation_label(c, lang))}</strong><br>"
                   f'<span class="muted">{_e(c.snippet)}</span></li>' for c in cites)
        out.append("</ol>")
    return out


def _answers(a: Assessment, lang: str) -> list[str]:
    t = LABELS[lang]
    out = [f"<h2>{_e(t['answers'])}</h2><table class=\"answers\"><tr><th>ID</th>"
           f"<th>{_e(t['question'])}</th><th>{_e(t['answer'])}</th><th>{_e(t['points'])}</th>"
           "</tr>"]
    for q in a.questions:
        answer = q.answer_text.get(lang) if q.answer_text else t["unanswered"]
        if q.evidence:
            answer += f" ({t['evidence']}: {q.evidence})"
        out.append(f"<tr><td>{_e(q.id)}</td><td>{_e(q.text.get(lang))}</td>"
                   f'<td>{_e(answer)}</td><td class="num">{fmt(q.points)}</td></tr>')
    out.append("</table>")
    return out
