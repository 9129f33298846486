"""Deterministic scoring: answers -> points -> indicators -> dimensions -> total -> level.

Arithmetic is exact (`Decimal`): indicator, dimension and total scores are each weighted sums
rounded half up to two decimals, in that order, so a person with a calculator following the
`explanation` lines gets the same digits. The level is the band the total falls in, then the
questionnaire's rules in their listed order (weakest-plank downgrade, key-indicator caps);
every rule that changed the level is recorded, and the last one is `level_rule`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from maas.toolbox.diagnosis.answers import AnswersError, check_answer, unknown_ids
from maas.toolbox.diagnosis.assessment import (
    Assessment,
    Comparison,
    DimensionResult,
    IndicatorResult,
    LevelInfo,
    LevelStep,
    QuestionResult,
    Weakness,
)
from maas.toolbox.diagnosis.common import Text, fmt, fmt2, round2
from maas.toolbox.diagnosis.comparison import compare_assessments
from maas.toolbox.diagnosis.questionnaire import (
    DimensionGapRule,
    KeyIndicatorRule,
    Questionnaire,
)

__all__ = ["AnswersError", "Assessment", "Comparison", "compare_assessments",
           "score_assessment"]


def score_assessment(q: Questionnaire, answers: dict[str, Any]) -> Assessment:
    """Score `answers` (question id -> answer) against `q`; raise AnswersError listing every
    problem when any answer is unknown, missing, of the wrong type or out of range."""
    if not isinstance(answers, dict):
        raise AnswersError(["answers must be an object mapping question ids to answers, not "
                            f"{type(answers).__name__}"])
    errors = unknown_ids(q, answers)
    questions: list[QuestionResult] = []
    for indicator in q.indicators():
        for question in indicator.questions:
            checked = check_answer(question, answers.get(question.id), errors)
            questions.append(QuestionResult(
                id=question.id, indicator=indicator.id, type=str(question.type),
                text=question.text, weight=question.weight, answered=checked.answered,
                answer=checked.value, answer_text=checked.text, evidence=checked.evidence,
                points=checked.points))
    if errors:
        raise AnswersError(errors)
    points = {r.id: r.points for r in questions}
    explanation: list[Text] = []

    indicators: list[IndicatorResult] = []
    for dimension in q.dimensions:
        for ind in dimension.indicators:
            terms = [(qq.weight, points[qq.id]) for qq in ind.questions]
            score = _weighted(terms)
            level = q.level_for(score)
            indicators.append(IndicatorResult(
                id=ind.id, dimension=dimension.id, name=ind.name, weight=ind.weight,
                key=ind.key, score=score, level=level,
                next_action=ind.actions.get(level + 1)))
            explanation.append(_line(ind.name, terms, score))
    by_id = {i.id: i for i in indicators}

    dimensions: list[DimensionResult] = []
    for dimension in q.dimensions:
        terms = [(i.weight, by_id[i.id].score) for i in dimension.indicators]
        score = _weighted(terms)
        dimensions.append(DimensionResult(id=dimension.id, name=dimension.name,
                                          weight=dimension.weight, score=score,
                                          level=q.level_for(score)))
        explanation.append(_line(dimension.name, terms, score))

    terms = [(d.weight, d.score) for d in dimensions]
    total = _weighted(terms)
    explanation.append(_line(Text(zh="综合得分", en="Total score"), terms, total))

    steps = _decide_level(q, total, dimensions, by_id)
    explanation.extend(step.reason for step in steps)
    level = steps[-1].level_after
    info = q.level_info(level)
    return Assessment(
        questionnaire_id=q.id, questionnaire_version=q.version, questionnaire_title=q.title,
        framework=q.framework, weakness_threshold=q.weakness_threshold, questions=questions,
        indicators=indicators, dimensions=dimensions, total=total, level=level,
        level_name=info.name if info else BELOW_LEVEL_1,
        level_description=info.description if info else None,
        level_rule=steps[-1].rule, level_steps=steps,
        levels=[LevelInfo(level=lv.level, name=lv.name, description=lv.description)
                for lv in q.levels],
        weaknesses=_weaknesses(q, indicators, dimensions), explanation=explanation)


def _weighted(terms: list[tuple[Decimal, Decimal]]) -> Decimal:
    return round2(sum((w * s for w, s in terms), Decimal(0)))


def _line(name: Text, terms: list[tuple[Decimal, Decimal]], result: Decimal) -> Text:
    sum_text = " + ".join(f"{fmt(w)}×{fmt(s)}" for w, s in terms)
    return Text(zh=f"{name.zh} = {sum_text} = {fmt2(result)}",
                en=f"{name.en} = {sum_text} = {fmt2(result)}")


def _band_text(q: Questionnaire, level: int) -> tuple[str, str]:
    if level == 0:
        low = fmt(q.levels[0].min_score)
        return f"低于一级下限 {low} 分", f"below the level 1 threshold of {low}"
    lower = q.levels[level - 1].min_score
    upper = q.levels[level].min_score if level < len(q.levels) else None
    band = f"[{fmt(lower)}, {fmt(upper)})" if upper is not None else f"[{fmt(lower)}, 100]"
    name = q.levels[level - 1].name
    return f"落在{name.zh}区间 {band}", f"falls in the {name.en} band {band}"


BELOW_LEVEL_1 = Text(zh="未达一级", en="Below level 1")


def _name(q: Questionnaire, level: int) -> Text:
    info = q.level_info(level)
    return info.name if info else BELOW_LEVEL_1


def _decide_level(q: Questionnaire, total: Decimal, dimensions: list[DimensionResult],
                  indicators: dict[str, IndicatorResult]) -> list[LevelStep]:
    level = q.level_for(total)
    zh, en = _band_text(q, level)
    steps = [LevelStep(rule="band", level_after=level,
                       reason=Text(zh=f"综合得分 {fmt2(total)} {zh}，初定为{_name(q, level).zh}",
                                   en=f"Total {fmt2(total)} {en}: initially "
                                      f"{_name(q, level).en}"))]
    for rule in q.rules:
        if isinstance(rule, DimensionGapRule):
            if level == 0:
                continue
            floor = q.levels[level - 1].min_score - rule.gap
            low = [d for d in dimensions if d.score < floor]
            if low:
                new = max(0, level - rule.downgrade)
                names_zh = "、".join(f"{d.name.zh} {fmt2(d.score)}" for d in low)
                names_en = ", ".join(f"{d.name.en} {fmt2(d.score)}" for d in low)
                steps.append(LevelStep(
                    rule="dimension_gap", level_before=level, level_after=new,
                    reason=Text(zh=f"{rule.reason.zh}（{names_zh} 低于 {fmt(floor)}）："
                                   f"{_name(q, level).zh} → {_name(q, new).zh}",
                                en=f"{rule.reason.en} ({names_en} below {fmt(floor)}): "
                                   f"{_name(q, level).en} -> {_name(q, new).en}")))
                level = new
        elif isinstance(rule, KeyIndicatorRule):
            ind = indicators[rule.indicator]
            if level > rule.max_level and ind.score < rule.min_score:
                steps.append(LevelStep(
                    rule=f"key_indicator:{ind.id}", level_before=level,
                    level_after=rule.max_level,
                    reason=Text(zh=f"{rule.reason.zh}（{ind.name.zh} {fmt2(ind.score)} < "
                                   f"{fmt(rule.min_score)}）："
                                   f"{_name(q, level).zh} → {_name(q, rule.max_level).zh}",
                                en=f"{rule.reason.en} ({ind.name.en} {fmt2(ind.score)} < "
                                   f"{fmt(rule.min_score)}): {_name(q, level).en} -> "
                                   f"{_name(q, rule.max_level).en}")))
                level = rule.max_level
    return steps


def _weaknesses(q: Questionnaire, indicators: list[IndicatorResult],
                dimensions: list[DimensionResult]) -> list[Weakness]:
    """Indicators below the threshold (lowest first; at equal scores key indicators, then
    the larger share of the total, first), then dimensions below it (lowest first)."""
    dim_weight = {d.id: d.weight for d in dimensions}
    low = [i for i in indicators if i.score < q.weakness_threshold]
    low.sort(key=lambda i: (i.score, not i.key, -(dim_weight[i.dimension] * i.weight), i.id))
    result = [Weakness(kind="indicator", id=i.id, dimension=i.dimension, name=i.name,
                       score=i.score, level=i.level, key=i.key, action=i.next_action)
              for i in low]
    low_dims = sorted((d for d in dimensions if d.score < q.weakness_threshold),
                      key=lambda d: (d.score, -d.weight, d.id))
    result.extend(Weakness(kind="dimension", id=d.id, dimension=d.id, name=d.name,
                           score=d.score, level=d.level) for d in low_dims)
    return result
