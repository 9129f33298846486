"""Fixed report wording in both languages, shared by the HTML and DOCX renderers."""

from __future__ import annotations

from maas.toolbox.diagnosis.matching import Citation
from maas.toolbox.diagnosis.narrative import Narrative

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "数字化水平诊断报告", "total": "综合得分", "summary": "诊断摘要",
        "radar": "各维度得分雷达图", "scores": "得分明细", "dimension": "维度",
        "indicator": "指标", "weight": "权重", "score": "得分", "level": "级别",
        "key": "关键项", "level_decision": "级别判定", "weaknesses": "短板与改进建议",
        "threshold": "低于以下分数的指标列为短板：", "no_weaknesses": "没有低于阈值的指标",
        "item": "项目", "actions": "下一步行动", "support": "匹配的产品与政策",
        "no_support": "未匹配到支持信息。", "sources": "出处", "none": "无",
        "references": "参考资料", "explanation": "计算过程", "answers": "问卷答案",
        "question": "问题", "answer": "回答", "points": "得分", "unanswered": "未作答",
        "evidence": "佐证", "framework": "评估框架", "page": "第{page}页",
        "by_model": "摘要由模型 {model} 撰写；所有分数均来自确定性计分。",
        "by_template": "摘要为内置模板（{reason}）；所有分数均来自确定性计分。",
        "no_model": "未使用模型",
    },
    "en": {
        "title": "Digital Level Diagnosis Report", "total": "Total score",
        "summary": "Summary", "radar": "Dimension scores (radar)", "scores": "Scores",
        "dimension": "Dimension", "indicator": "Indicator", "weight": "Weight",
        "score": "Score", "level": "Level", "key": "key item",
        "level_decision": "How the level was decided", "weaknesses":
        "Weaknesses and recommended actions",
        "threshold": "Indicators scoring below this are listed as weaknesses:",
        "no_weaknesses": "No indicator is below the threshold", "item": "Item",
        "actions": "Next step", "support": "Matched products and policies",
        "no_support": "No support was matched.", "sources": "Sources", "none": "none",
        "references": "References", "explanation": "Calculation", "answers": "Answers",
        "question": "Question", "answer": "Answer", "points": "Points",
        "unanswered": "not answered", "evidence": "evidence", "framework": "Framework",
        "page": "p. {page}",
        "by_model": "Summary written by the model {model}; every score comes from "
                    "deterministic scoring.",
        "by_template": "Summary from the built-in template ({reason}); every score comes "
                       "from deterministic scoring.",
        "no_model": "no model used",
    },
}


def narrative_note(narrative: Narrative, language: str) -> str:
    t = LABELS[language]
    if narrative.generated_by == "model":
        return t["by_model"].format(model=narrative.model or "?")
    return t["by_template"].format(reason=narrative.reason or t["no_model"])


def citation_label(c: Citation, language: str) -> str:
    parts = [f"[{c.number}] {c.document}"]
    if c.page is not None:
        parts.append(LABELS[language]["page"].format(page=c.page))
    if c.section:
        parts.append(c.section)
    if c.knowledge_base:
        parts.append(f"({c.knowledge_base})")
    return " · ".join(parts)
