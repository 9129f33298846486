"""Answer checking: turn one raw answer into points, or say exactly what is wrong with it.

Every problem is collected (not just the first) so a user fixes a form in one pass; each
message names the question id and what would have been accepted.
"""

from __future__ import annotations

import difflib
import math
from decimal import Decimal
from typing import Any

from maas.errors import InvalidRequest
from maas.toolbox.diagnosis.common import HUNDRED, Text, fmt
from maas.toolbox.diagnosis.questionnaire import Question, Questionnaire, QuestionType

MAX_EVIDENCE = 2000


class AnswersError(InvalidRequest):
    """The answers do not fit the questionnaire (a 400); `errors` lists every problem found."""

    code = "invalid_answers"

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors), param="answers")


class Checked:
    """One question's checked answer."""

    def __init__(self, answered: bool, value: Any, points: Decimal,
                 text: Text | None = None, evidence: str | None = None) -> None:
        self.answered, self.value, self.points = answered, value, points
        self.text, self.evidence = text, evidence


def unknown_ids(q: Questionnaire, answers: dict[Any, Any]) -> list[str]:
    known = [question.id for question in q.questions()]
    errors = []
    for key in answers:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        errors.append(f"unknown question {key!r}: questionnaire {q.id!r} has no such "
                      f"question{hint}")
    return errors


def check_answer(question: Question, raw: Any, errors: list[str]) -> Checked:
    """Points for `raw`; appends to `errors` (and returns 0 points) when it is not valid."""
    value, evidence = _unwrap(question, raw, errors)
    if value is None:
        if question.required:
            errors.append(f"question {question.id!r} is required but has no answer; "
                          f"{_allowed(question)}")
        return Checked(False, None, Decimal(0), evidence=evidence)
    before = len(errors)
    if question.type == QuestionType.single:
        points, text = _single(question, value, errors)
    elif question.type == QuestionType.multi:
        points, text = _multi(question, value, errors)
    elif question.type == QuestionType.number:
        points, text, value = _number(question, value, errors)
    else:
        points, text = _boolean(question, value, errors)
    if len(errors) > before:
        return Checked(True, value, Decimal(0), evidence=evidence)
    return Checked(True, value, points, text, evidence)


def _unwrap(question: Question, raw: Any, errors: list[str]) -> tuple[Any, str | None]:
    """An answer is the value itself or {"value": ..., "evidence": "..."}."""
    if not isinstance(raw, dict):
        return raw, None
    extra = set(raw) - {"value", "evidence"}
    if extra:
        errors.append(f"question {question.id!r}: an answer object takes only 'value' and "
                      f"'evidence', not {sorted(map(str, extra))}")
    evidence = raw.get("evidence")
    if evidence is not None and (not isinstance(evidence, str) or len(evidence) > MAX_EVIDENCE):
        errors.append(f"question {question.id!r}: evidence must be text of at most "
                      f"{MAX_EVIDENCE} characters")
        evidence = None
    return raw.get("value"), evidence


def _allowed(question: Question) -> str:
    if question.type == QuestionType.single:
        return "choose one of: " + ", ".join(o.id for o in question.options)
    if question.type == QuestionType.multi:
        return "give a list of option ids from: " + ", ".join(o.id for o in question.options)
    if question.type == QuestionType.number:
        return f"give a number from {fmt(question.min)} to {fmt(question.max)}" + (
            f" ({question.unit})" if question.unit else "")
    return "give true or false"


def _describe(value: Any) -> str:
    kind = {bool: "boolean", str: "string", list: "list", dict: "object", int: "number",
            float: "number"}.get(type(value), type(value).__name__)
    return f"the {kind} {value!r}"


def _single(question: Question, value: Any, errors: list[str]) -> tuple[Decimal, Text | None]:
    if not isinstance(value, str):
        errors.append(f"question {question.id!r} takes one option id (a string), not "
                      f"{_describe(value)}; {_allowed(question)}")
        return Decimal(0), None
    option = question.option(value)
    if option is None:
        errors.append(f"question {question.id!r}: option {value!r} is not in the list; "
                      f"{_allowed(question)}")
        return Decimal(0), None
    return option.score, option.text


def _multi(question: Question, value: Any, errors: list[str]) -> tuple[Decimal, Text | None]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"question {question.id!r} takes a list of option ids, not "
                      f"{_describe(value)}; {_allowed(question)}")
        return Decimal(0), None
    unknown = [v for v in value if question.option(v) is None]
    if unknown:
        errors.append(f"question {question.id!r}: option(s) {unknown} not in the list; "
                      f"{_allowed(question)}")
        return Decimal(0), None
    if len(set(value)) != len(value):
        errors.append(f"question {question.id!r}: option(s) "
                      f"{sorted({v for v in value if value.count(v) > 1})} chosen twice")
        return Decimal(0), None
    chosen = [o for o in question.options if o.id in value]
    exclusive = [o.id for o in chosen if o.exclusive]
    if exclusive and len(chosen) > 1:
        errors.append(f"question {question.id!r}: {exclusive[0]!r} ('none of these') cannot "
                      "be combined with other options")
        return Decimal(0), None
    points = min(HUNDRED, sum((o.score for o in chosen), Decimal(0)))
    text = Text(zh="；".join(o.text.zh for o in chosen) or "（未选择）",
                en="; ".join(o.text.en for o in chosen) or "(none selected)")
    return points, text


def _number(question: Question, value: Any,
            errors: list[str]) -> tuple[Decimal, Text | None, Any]:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or (
            isinstance(value, float) and not math.isfinite(value)):
        errors.append(f"question {question.id!r} takes a number, not {_describe(value)}; "
                      f"{_allowed(question)}")
        return Decimal(0), None, value
    number = Decimal(str(value))
    assert question.min is not None and question.max is not None  # checked on load
    if not question.min <= number <= question.max:
        errors.append(f"question {question.id!r}: {fmt(number)} is out of range; "
                      f"{_allowed(question)}")
        return Decimal(0), None, value
    band = [b for b in question.bands if number >= b.min][-1]
    shown = f"{fmt(number)}{question.unit}"
    return band.score, Text(zh=shown, en=shown), value


def _boolean(question: Question, value: Any, errors: list[str]) -> tuple[Decimal, Text | None]:
    if not isinstance(value, bool):
        errors.append(f"question {question.id!r} takes true or false, not {_describe(value)}")
        return Decimal(0), None
    assert question.score_true is not None and question.score_false is not None
    text = Text(zh="是", en="yes") if value else Text(zh="否", en="no")
    return (question.score_true if value else question.score_false), text
