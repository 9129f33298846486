"""Transformation diagnosis: scores that match hand-computed arithmetic, precise errors for
bad answers, questionnaire validation, comparison. The expected numbers below are worked out
by hand in the comments; none of them is computed with the scorer's helpers."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
import yaml

from maas.settings import REPO_ROOT
from maas.toolbox.diagnosis.assessment import Assessment
from maas.toolbox.diagnosis.questionnaire import (
    QuestionnaireError,
    QuestionnaireNotFound,
    list_questionnaires,
    load_questionnaire,
    parse_questionnaire,
)
from maas.toolbox.diagnosis.scoring import AnswersError, compare_assessments, score_assessment

D = Decimal


# A small questionnaire whose every score is easy to compute by hand (also used by
# test_diagnosis_report.py).
def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _actions(name: str) -> dict[int, dict[str, str]]:
    return {n: _t(f"{name}：达到{n}级", f"{name}: reach level {n}") for n in (1, 2, 3, 4)}


MINI: dict[str, Any] = {
    "id": "mini-test",
    "version": "1",
    "title": _t("小问卷", "Mini questionnaire"),
    "framework": _t("测试框架", "Test framework"),
    "adaptations": _t("测试用", "For tests"),
    "weakness_threshold": 60,
    "levels": [
        {"level": n, "name": _t(f"{zh}级", f"Level {n}"), "min_score": 20 * n,
         "description": _t(zh, f"level {n}")}
        for n, zh in ((1, "一"), (2, "二"), (3, "三"), (4, "四"))],
    "rules": [
        {"kind": "dimension_gap", "gap": 20, "downgrade": 1,
         "reason": _t("短板约束", "Weakest plank")},
        {"kind": "key_indicator", "indicator": "c1", "min_score": 40, "max_level": 1,
         "reason": _t("关键项", "Key item")},
    ],
    "dimensions": [
        {"id": "a", "name": _t("甲维度", "Dimension A"), "weight": 0.45, "indicators": [
            {"id": "a1", "name": _t("甲一", "A one"), "weight": 0.65, "key": True,
             "actions": _actions("甲一"), "questions": [
                 {"id": "q1", "type": "single", "weight": 0.5, "text": _t("问一", "Q one"),
                  "options": [
                      {"id": "x", "score": 0, "level": 0, "text": _t("无", "none")},
                      {"id": "y", "score": 40, "level": 2, "text": _t("部分", "some")},
                      {"id": "z", "score": 100, "level": 4, "text": _t("全部", "all")}]},
                 {"id": "q2", "type": "number", "weight": 0.5, "unit": "%", "min": 0,
                  "max": 100, "text": _t("问二", "Q two"),
                  "bands": [{"min": 0, "score": 0}, {"min": 50, "score": 50},
                            {"min": 90, "score": 100}]}]},
            {"id": "a2", "name": _t("甲二", "A two"), "weight": 0.35,
             "actions": _actions("甲二"), "questions": [
                 {"id": "q3", "type": "multi", "weight": 1, "text": _t("问三", "Q three"),
                  "options": [
                      {"id": "m1", "score": 30, "text": _t("一", "one")},
                      {"id": "m2", "score": 30, "text": _t("二", "two")},
                      {"id": "m3", "score": 50, "text": _t("三", "three")},
                      {"id": "none", "score": 0, "exclusive": True, "text": _t("无", "none")}]}]},
        ]},
        {"id": "b", "name": _t("乙维度", "Dimension B"), "weight": 0.35, "indicators": [
            {"id": "b1", "name": _t("乙一", "B one"), "weight": 1, "actions": _actions("乙一"),
             "questions": [
                 {"id": "q4", "type": "boolean", "weight": 1, "score_true": 100,
                  "score_false": 0, "text": _t("问四", "Q four")}]}]},
        {"id": "c", "name": _t("丙维度", "Dimension C"), "weight": 0.2, "indicators": [
            {"id": "c1", "name": _t("丙一", "C one"), "weight": 1, "key": True,
             "actions": _actions("丙一"), "questions": [
                 {"id": "q5", "type": "single", "weight": 0.75, "text": _t("问五", "Q five"),
                  "options": [
                      {"id": "lo", "score": 0, "text": _t("低", "low")},
                      {"id": "mid", "score": 50, "text": _t("中", "mid")},
                      {"id": "hi", "score": 100, "text": _t("高", "high")}]},
                 {"id": "q6", "type": "single", "weight": 0.25, "required": False,
                  "text": _t("问六", "Q six"),
                  "options": [
                      {"id": "no", "score": 0, "text": _t("否", "no")},
                      {"id": "yes", "score": 100, "text": _t("是", "yes")}]}]}]},
    ],
}

#: Band level 3, lowered by the weakest-plank rule to 2, then capped by key item c1 to 1.
CAPPED_ANSWERS: dict[str, Any] = {"q1": "y", "q2": 90, "q3": ["m1", "m3"], "q4": True,
                                  "q5": "mid"}
#: No rule fires.
STRONG_ANSWERS: dict[str, Any] = {"q1": "z", "q2": 49.5, "q3": ["m1", "m2", "m3"],
                                  "q4": True, "q5": "hi", "q6": "yes"}


def mini() -> dict[str, Any]:
    return copy.deepcopy(MINI)

EXAMPLE = REPO_ROOT / "examples" / "diagnosis" / "answers-machining-sme.yaml"


def _points(a: Assessment) -> dict[str, Decimal]:
    return {q.id: q.points for q in a.questions}


def _scores(items: list[Any]) -> dict[str, Decimal]:
    return {i.id: i.score for i in items}


def test_mini_questionnaire_hand_computed_with_both_caps() -> None:
    a = score_assessment(parse_questionnaire(mini()), CAPPED_ANSWERS)
    # q1 'y' = 40; q2 90 falls in the band starting at 90 = 100; q3 m1+m3 = 30+50 = 80;
    # q4 true = 100; q5 'mid' = 50; q6 optional, unanswered = 0.
    assert _points(a) == {"q1": D(40), "q2": D(100), "q3": D(80), "q4": D(100), "q5": D(50),
                          "q6": D(0)}
    assert not next(q for q in a.questions if q.id == "q6").answered
    # a1 = 0.5*40 + 0.5*100 = 70; a2 = 80; b1 = 100; c1 = 0.75*50 + 0.25*0 = 37.5
    assert _scores(a.indicators) == {"a1": D("70.00"), "a2": D("80.00"), "b1": D("100.00"),
                                     "c1": D("37.50")}
    # a = 0.65*70 + 0.35*80 = 45.5 + 28 = 73.5; b = 100; c = 37.5
    assert _scores(a.dimensions) == {"a": D("73.50"), "b": D("100.00"), "c": D("37.50")}
    # total = 0.45*73.5 + 0.35*100 + 0.2*37.5 = 33.075 + 35 + 7.5 = 75.575 -> 75.58 (half up)
    assert a.total == D("75.58")
    # band [60, 80) -> level 3; c = 37.5 is more than 20 below 60 -> level 2;
    # key indicator c1 37.5 < 40 caps at level 1.
    assert [(s.rule, s.level_after) for s in a.level_steps] == [
        ("band", 3), ("dimension_gap", 2), ("key_indicator:c1", 1)]
    assert a.level == 1 and a.level_rule == "key_indicator:c1"
    assert a.level_name.en == "Level 1"
    # weaknesses: indicators under 60 (c1), then dimensions under 60 (c)
    assert [(w.kind, w.id, w.score) for w in a.weaknesses] == [
        ("indicator", "c1", D("37.50")), ("dimension", "c", D("37.50"))]
    assert a.weaknesses[0].key and a.weaknesses[0].level == 1
    # c1 is at level 1 (37.5 in [20, 40)), so its action is the one to reach level 2
    assert a.weaknesses[0].action is not None
    assert a.weaknesses[0].action.en == "丙一: reach level 2"
    zh = [line.zh for line in a.explanation]
    assert "甲一 = 0.5×40 + 0.5×100 = 70.00" in zh
    assert "甲维度 = 0.65×70 + 0.35×80 = 73.50" in zh
    assert "综合得分 = 0.45×73.5 + 0.35×100 + 0.2×37.5 = 75.58" in zh
    assert any("Weakest plank" in line.en for line in a.explanation)


def test_mini_strong_answers_round_half_up_and_no_rule() -> None:
    a = score_assessment(parse_questionnaire(mini()), STRONG_ANSWERS)
    # q1 'z' = 100; q2 49.5 is below the band at 50 -> 0; q3 30+30+50 = 110 capped at 100;
    # q4 true = 100; q5 'hi' = 100; q6 'yes' = 100
    assert _points(a) == {"q1": D(100), "q2": D(0), "q3": D(100), "q4": D(100),
                          "q5": D(100), "q6": D(100)}
    # a1 = 0.5*100 + 0.5*0 = 50; a = 0.65*50 + 0.35*100 = 32.5 + 35 = 67.5
    assert _scores(a.dimensions) == {"a": D("67.50"), "b": D("100.00"), "c": D("100.00")}
    # total = 0.45*67.5 + 0.35*100 + 0.2*100 = 30.375 + 35 + 20 = 85.375 -> 85.38 (half up)
    assert a.total == D("85.38")
    assert a.level == 4 and a.level_rule == "band" and len(a.level_steps) == 1
    assert [w.id for w in a.weaknesses] == ["a1"]  # 50 < 60


def test_shipped_questionnaire_example_answers_hand_computed() -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    a = score_assessment(load_questionnaire(data["questionnaire"]), data["answers"])
    assert _points(a) == {
        "equipment_digital_share": D(75),  # 65% -> band from 60
        "equipment_data_collection": D(50), "shopfloor_network": D(50),
        "cloud_systems": D(45),  # erp 30 + collaboration 15
        "material_coding": D(50), "bom_accuracy": D(60),  # 92 -> band from 90
        "backup_practice": D(50), "security_controls": D(35),  # accounts 20 + endpoint 15
        "design_tools": D(50), "work_reporting": D(40), "scheduling": D(50),
        "quality_records": D(25), "inventory_management": D(55),
        "inventory_accuracy": D(30),  # 88 -> band from 80
        "order_management": D(55), "finance_integration": D(40), "digital_plan": D(50),
        "digital_investment": D(60),  # 0.9 -> band from 0.8
        "digital_lead": D(50), "digital_training": D(0), "management_reporting": D(50),
        "on_time_delivery": D(60),  # 86 -> band from 85
        "kpi_tracking": D(50), "verified_improvements": D(20)}
    assert _scores(a.indicators) == {
        "equipment": D("60.00"),  # 0.4*75 + 0.6*50 = 30 + 30
        "network_cloud": D("47.50"),  # 0.5*50 + 0.5*45 = 25 + 22.5
        "data_resources": D("54.00"),  # 0.6*50 + 0.4*60 = 30 + 24
        "security": D("42.50"),  # 0.5*50 + 0.5*35 = 25 + 17.5
        "rnd_design": D("50.00"),
        "production_control": D("40.00"),  # 0.5*40 + 0.3*50 + 0.2*25 = 20 + 15 + 5
        "supply_inventory": D("45.00"),  # 0.6*55 + 0.4*30 = 33 + 12
        "sales_service": D("55.00"), "finance_costing": D("40.00"),
        "strategy_investment": D("54.00"),  # 0.6*50 + 0.4*60 = 30 + 24
        "organisation_talent": D("35.00"),  # 0.7*50 + 0.3*0
        "data_decisions": D("50.00"),
        "efficiency_quality": D("55.00"),  # 0.5*60 + 0.5*50
        "benefits_innovation": D("20.00")}
    assert _scores(a.dimensions) == {
        # 0.3*60 + 0.2*47.5 + 0.25*54 + 0.25*42.5 = 18 + 9.5 + 13.5 + 10.625 = 51.625
        # -> 51.63 half up (banker's rounding would give 51.62)
        "foundation": D("51.63"),
        # 0.15*50 + 0.3*40 + 0.2*45 + 0.15*55 + 0.2*40 = 7.5 + 12 + 9 + 8.25 + 8 = 44.75
        "operations": D("44.75"),
        # 0.4*54 + 0.35*35 + 0.25*50 = 21.6 + 12.25 + 12.5 = 46.35
        "management": D("46.35"),
        # 0.6*55 + 0.4*20 = 33 + 8 = 41
        "results": D("41.00")}
    # 0.25*51.63 + 0.4*44.75 + 0.2*46.35 + 0.15*41 = 12.9075 + 17.9 + 9.27 + 6.15 = 46.2275
    assert a.total == D("46.23")
    # band [40, 60) -> level 2; no dimension is below 40 - 20 = 20; data_resources 54 >= 40,
    # production_control 40 >= 40, equipment (60) only matters from level 3.
    assert a.level == 2 and a.level_rule == "band"
    assert a.level_name.zh == "二级"
    assert [w.id for w in a.weaknesses][:4] == [
        "benefits_innovation", "organisation_talent",
        # production_control and finance_costing tie at 40: the key indicator comes first
        "production_control", "finance_costing"]
    evidence = next(q for q in a.questions if q.id == "material_coding").evidence
    assert evidence and "QM-07" in evidence


def test_assessment_round_trips_through_json() -> None:
    a = score_assessment(parse_questionnaire(mini()), CAPPED_ANSWERS)
    stored = a.model_dump(mode="json")
    assert stored["total"] == 75.58 and isinstance(stored["total"], float)
    rebuilt = Assessment.model_validate(stored)
    assert rebuilt == a and rebuilt.total == D("75.58")


@pytest.mark.parametrize(("answers", "expected"), [
    ({**CAPPED_ANSWERS, "q9": "x"}, "unknown question 'q9'"),
    ({**CAPPED_ANSWERS, "q11": 1}, "did you mean 'q1'"),
    ({k: v for k, v in CAPPED_ANSWERS.items() if k != "q5"},
     "question 'q5' is required but has no answer; choose one of: lo, mid, hi"),
    ({**CAPPED_ANSWERS, "q1": "w"}, "question 'q1': option 'w' is not in the list; choose one "
                                    "of: x, y, z"),
    ({**CAPPED_ANSWERS, "q1": ["y"]}, "question 'q1' takes one option id (a string), not the "
                                      "list ['y']"),
    ({**CAPPED_ANSWERS, "q2": 120}, "question 'q2': 120 is out of range; give a number from 0 "
                                    "to 100 (%)"),
    ({**CAPPED_ANSWERS, "q2": -1}, "question 'q2': -1 is out of range"),
    ({**CAPPED_ANSWERS, "q2": "85%"}, "question 'q2' takes a number, not the string '85%'"),
    ({**CAPPED_ANSWERS, "q2": True}, "question 'q2' takes a number, not the boolean True"),
    ({**CAPPED_ANSWERS, "q2": float("nan")}, "question 'q2' takes a number"),
    ({**CAPPED_ANSWERS, "q3": "m1"}, "question 'q3' takes a list of option ids, not the string"),
    ({**CAPPED_ANSWERS, "q3": ["m1", "m9"]}, "question 'q3': option(s) ['m9'] not in the list"),
    ({**CAPPED_ANSWERS, "q3": ["m1", "m1"]}, "question 'q3': option(s) ['m1'] chosen twice"),
    ({**CAPPED_ANSWERS, "q3": ["none", "m1"]}, "'none' ('none of these') cannot be combined"),
    ({**CAPPED_ANSWERS, "q4": "yes"}, "question 'q4' takes true or false, not the string 'yes'"),
    ({**CAPPED_ANSWERS, "q4": {"value": True, "note": "x"}},
     "question 'q4': an answer object takes only 'value' and 'evidence'"),
])
def test_bad_answers_get_precise_errors(answers: dict[str, Any], expected: str) -> None:
    with pytest.raises(AnswersError) as info:
        score_assessment(parse_questionnaire(mini()), answers)
    assert any(expected in e for e in info.value.errors), info.value.errors
    assert expected in str(info.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(AnswersError) as info:
        score_assessment(parse_questionnaire(mini()), {"q1": "w", "q2": 500, "zzz": 1})
    errors = info.value.errors
    assert len(errors) == 6  # zzz unknown, q1 option, q2 range, q3 q4 q5 missing
    assert info.value.code == "invalid_answers"


def test_answers_must_be_a_mapping() -> None:
    with pytest.raises(AnswersError, match="answers must be an object"):
        score_assessment(parse_questionnaire(mini()), ["q1"])  # type: ignore[arg-type]


def test_compare_gives_exact_deltas() -> None:
    q = parse_questionnaire(mini())
    before = score_assessment(q, CAPPED_ANSWERS)
    after = score_assessment(q, STRONG_ANSWERS)
    c = compare_assessments(before, after)
    assert (c.total_before, c.total_after, c.total_delta) == (D("75.58"), D("85.38"),
                                                              D("9.80"))
    assert (c.level_before, c.level_after, c.level_change) == (1, 4, 3)
    assert {d.id: d.delta for d in c.dimensions} == {"a": D("-6.00"), "b": D("0.00"),
                                                     "c": D("62.50")}
    assert [(d.id, d.delta) for d in c.improved] == [("c1", D("62.50")), ("a2", D("20.00"))]
    assert [(d.id, d.delta) for d in c.regressed] == [("a1", D("-20.00"))]
    assert c.unchanged == ["b1"]
    assert "+9.80" in c.summary.en


def test_compare_refuses_different_questionnaires() -> None:
    a = score_assessment(parse_questionnaire(mini()), CAPPED_ANSWERS)
    other = mini()
    other["id"] = "mini-other"
    b = score_assessment(parse_questionnaire(other), CAPPED_ANSWERS)
    with pytest.raises(Exception, match="only one questionnaire"):
        compare_assessments(a, b)


def test_shipped_questionnaire_loads_and_follows_the_framework() -> None:
    q = load_questionnaire("sme-digital-level-2024")
    assert [d.name.zh for d in q.dimensions] == ["数字化基础", "数字化经营", "数字化管理",
                                                 "数字化成效"]
    assert [lv.min_score for lv in q.levels] == [20, 40, 60, 80]
    assert [lv.name.zh for lv in q.levels] == ["一级", "二级", "三级", "四级"]
    assert "2024" in q.framework.zh and q.adaptations.en
    assert {i.id for i in q.indicators() if i.key} == {"equipment", "data_resources",
                                                       "production_control"}
    assert [x.id for x in list_questionnaires()] == ["sme-digital-level-2024"]
    dumped = q.model_dump(mode="json")
    assert dumped["dimensions"][0]["weight"] == 0.25


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "Sme", "", "x" * 80, "nope"])
def test_unknown_or_malformed_questionnaire_id(bad_id: str) -> None:
    with pytest.raises(QuestionnaireNotFound):
        load_questionnaire(bad_id)


def _broken(edit: Any) -> dict[str, Any]:
    data = mini()
    edit(data)
    return data


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["dimensions"][0].update(weight=0.4), "dimension weights sum to 0.95, not 1"),
    (lambda d: d["dimensions"][0]["indicators"][0].update(weight=0.6),
     "dimension 'a': indicator weights sum to 0.95, not 1"),
    (lambda d: d["dimensions"][0]["indicators"][0]["questions"][0].update(weight=0.4),
     "indicator 'a1': question weights sum to 0.9, not 1"),
    (lambda d: d["dimensions"][1]["indicators"][0].update(id="a1"),
     "repeated: ['a1']"),
    (lambda d: d["dimensions"][1]["indicators"][0].update(id="B-1"), "String should match"),
    (lambda d: d["levels"][2].update(min_score=30), "strictly increasing"),
    (lambda d: d["dimensions"][0]["indicators"][0]["questions"][0]["options"][2].update(
        score=90), "the best option must score 100"),
    (lambda d: d["dimensions"][0]["indicators"][0]["actions"].pop(4), "actions needs exactly"),
    (lambda d: d["dimensions"][0]["indicators"][1]["questions"][0]["options"][2].update(
        score=10), "100 must be reachable"),
    (lambda d: d["dimensions"][0]["indicators"][0]["questions"][1]["bands"][2].update(
        score=90), "the last must be 100"),
    (lambda d: d["rules"][1].update(indicator="b1"), "not a key indicator"),
])
def test_inconsistent_questionnaires_are_refused(edit: Any, expected: str) -> None:
    with pytest.raises(QuestionnaireError) as info:
        parse_questionnaire(_broken(edit))
    assert expected in str(info.value)

