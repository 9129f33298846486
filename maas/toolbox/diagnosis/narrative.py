"""The report's prose: an executive summary and a comment per weakness.

The model is asked for language only. Its text is checked before use: a sentence quoting a
number that is not among the facts it was given is dropped (the report's numbers come from
scoring), and text that is empty, in the wrong language or repetitive is replaced by a
template written from the scores. The result says which parts are the model's.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from maas.toolbox.diagnosis.assessment import Assessment, Weakness
from maas.toolbox.diagnosis.common import Strict, check_language, fmt2
from maas.toolbox.diagnosis.matching import Match, all_citations

log = logging.getLogger(__name__)

ModelCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_TOKENS = 450
TEMPERATURE = 0.2
MAX_COMMENTS = 5
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_SENTENCE = re.compile(r"(?<=[。！？])\s*|(?<=[.!?])\s+")


class Comment(Strict):
    id: str  # the weak indicator
    text: str
    source: Literal["model", "template"]


class Narrative(Strict):
    language: Literal["zh", "en"]
    summary: str
    comments: list[Comment]
    generated_by: Literal["model", "fallback"]  # who wrote the summary
    fallback: bool  # True when any part is the built-in template
    model: str | None = None
    reason: str | None = None  # why the template was used

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def facts(assessment: Assessment, matches: list[Match], language: str) -> str:
    """The numbered facts the model may use (and the only numbers it may quote)."""
    lang = "zh" if language == "zh" else "en"
    lines = [f"Overall: {assessment.level_name.get(lang)} (total {fmt2(assessment.total)} "
             f"of 100)."]
    lines.append("Dimensions: " + "; ".join(f"{d.name.get(lang)} {fmt2(d.score)}"
                                            for d in assessment.dimensions) + ".")
    lines.append("Weaknesses (lowest first):")
    for w in _weak(assessment):
        action = w.action.get(lang) if w.action else ""
        lines.append(f"- {w.id}: {w.name.get(lang)} {fmt2(w.score)}. Next step: {action}")
    cites = all_citations(matches)
    if cites:
        lines.append("Sources:")
        lines.extend(f"[{c.number}] {c.document}: {c.snippet}" for c in cites)
    return "\n".join(lines)


def _weak(assessment: Assessment) -> list[Weakness]:
    return [w for w in assessment.weaknesses if w.kind == "indicator"][:MAX_COMMENTS]


def build_payload(assessment: Assessment, matches: list[Match], *, model: str,
                  language: str) -> dict[str, Any]:
    target = "Simplified Chinese" if language == "zh" else "English"
    ids = ", ".join(w.id for w in _weak(assessment))
    system = ("You are a digital-transformation consultant writing a short report for a small "
              f"manufacturer. Write in {target}. Use only the facts given; do not invent "
              "numbers. Cite sources as [n].")
    user = (f"{facts(assessment, matches, language)}\n\nWrite:\nSUMMARY: two to four sentences "
            "for the owner.\nThen one line per weakness, in the form '- <id>: advice' "
            f"for these ids: {ids}.")
    return {"model": model, "messages": [{"role": "system", "content": system},
                                         {"role": "user", "content": user}],
            "max_tokens": MAX_TOKENS, "temperature": TEMPERATURE}


async def write_narrative(assessment: Assessment, matches: list[Match], *,
                          call: ModelCall | None, model: str, language: str) -> Narrative:
    """The narrative in `language` ("zh" or "en"); never raises for a model failure. With
    no `call` (no model chosen) it is the built-in template."""
    lang = check_language(language)
    template_summary = fallback_summary(assessment, lang)
    templates = {w.id: fallback_comment(w, matches, lang) for w in _weak(assessment)}
    allowed = _numbers(facts(assessment, matches, lang))
    text, reason = "", None
    if call is None:
        reason = "no model was chosen"
    else:
        try:
            response = await call(build_payload(assessment, matches, model=model,
                                                language=lang))
            text = str(response["choices"][0]["message"].get("content") or "")
        except Exception as exc:  # any failure of the model path falls back to the template
            reason = f"model call failed: {type(exc).__name__}: {exc}"[:300]
    summary_raw, comments_raw = _parse(text, set(templates))
    summary = _clean(summary_raw, allowed, lang)
    if reason is None and not summary:
        reason = "model output was empty, in the wrong language, or unusable"
    comments = []
    for wid, template in templates.items():
        mine = _clean(comments_raw.get(wid, ""), allowed, lang, minimum=15)
        comments.append(Comment(id=wid, text=mine or template,
                                source="model" if mine else "template"))
    used_model = bool(summary)
    if reason:
        log.info("diagnosis narrative falls back to the template: %s", reason)
    return Narrative(
        language=lang, summary=summary or template_summary, comments=comments,
        generated_by="model" if used_model else "fallback",
        fallback=not used_model or any(c.source == "template" for c in comments),
        model=model or None, reason=None if used_model else reason)


def _parse(text: str, ids: set[str]) -> tuple[str, dict[str, str]]:
    summary: list[str] = []
    comments: dict[str, str] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r"^[-*•]?\s*\**`?([a-z][a-z0-9_]*)`?\**\s*[:：]\s*(.*)$", line)
        if m and m.group(1) in ids:
            current = m.group(1)
            comments[current] = m.group(2)
        elif current and line:
            comments[current] += " " + line
        elif line:
            summary.append(re.sub(r"^\**\s*(SUMMARY|Summary|摘要|总结)\s*\**\s*[:：]\s*", "",
                                  line))
    return " ".join(summary).strip(), comments


def _numbers(text: str) -> set[Decimal]:
    out = set()
    for n in _NUMBER.findall(text):
        try:
            out.add(Decimal(n).normalize())
        except InvalidOperation:
            continue
    return out


def _clean(text: str, allowed: set[Decimal], language: str, minimum: int = 30) -> str:
    """Drop sentences quoting unknown numbers; '' when what is left is not usable prose."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    kept = [s for s in sentences if _numbers(s) <= allowed]
    result = " ".join(kept) if language == "en" else "".join(kept)
    letters = len(_CJK.findall(result)) + len(_LATIN.findall(result))
    if letters < (minimum // 3 if language == "zh" else minimum):
        return ""
    cjk = len(_CJK.findall(result))
    if (language == "zh" and cjk < letters * 0.3) or (language == "en" and cjk > letters * 0.1):
        return ""
    words = re.findall(r"\w+", result.lower())
    if len(words) >= 8 and Counter(words).most_common(1)[0][1] > len(words) * 0.3:
        return ""
    return result[:1500]


def fallback_summary(assessment: Assessment, language: str) -> str:
    dims = sorted(assessment.dimensions, key=lambda d: (d.score, d.id))
    weak = _weak(assessment)[:3]
    capped = assessment.level_rule != "band"
    if language == "zh":
        text = (f"综合得分 {fmt2(assessment.total)} 分，评定为{assessment.level_name.zh}"
                f"{'（已按短板或关键项规则调整）' if capped else ''}。"
                f"最强维度为{dims[-1].name.zh}（{fmt2(dims[-1].score)} 分），"
                f"最弱维度为{dims[0].name.zh}（{fmt2(dims[0].score)} 分）。")
        if weak:
            text += "建议优先改进：" + "、".join(w.name.zh for w in weak) + "。"
        return text
    text = (f"The total score is {fmt2(assessment.total)}, rated {assessment.level_name.en}"
            f"{' (adjusted by the weakest-plank or key-item rules)' if capped else ''}. "
            f"The strongest dimension is {dims[-1].name.en} ({fmt2(dims[-1].score)}); the "
            f"weakest is {dims[0].name.en} ({fmt2(dims[0].score)}).")
    if weak:
        text += " Improve first: " + ", ".join(w.name.en for w in weak) + "."
    return text


def fallback_comment(w: Weakness, matches: list[Match], language: str) -> str:
    match = next((m for m in matches if m.kind == "weakness" and m.target == w.id), None)
    products = [p.name.get(language) for p in (match.products if match else [])][:3]
    refs = "".join(f"[{c.number}]" for c in (match.citations if match else []))
    action = w.action.get(language) if w.action else ""
    if language == "zh":
        text = f"{w.name.zh}得分 {fmt2(w.score)}。下一步：{action}"
        if products:
            text += "可考虑：" + "、".join(products) + "。"
        return text + (f"参见 {refs}。" if refs else "")
    text = f"{w.name.en} scores {fmt2(w.score)}. Next step: {action}"
    if products:
        text += " Consider: " + ", ".join(products) + "."
    return text + (f" See {refs}." if refs else "")
