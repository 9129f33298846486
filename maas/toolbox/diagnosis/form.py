"""The questionnaire as an app's input form, and a filled form back as answers.

The diagnosis app in `apps/` is generated from the questionnaire (`form_fields`), so the
two cannot drift apart (a test compares them). An option travels through the form as
`<option id>: <zh> / <en>`, readable in any console and mapped back by its id.
"""

from __future__ import annotations

from typing import Any

from maas.toolbox.diagnosis.questionnaire import Questionnaire

SEPARATOR = ": "
FORM_TYPES = {"single": "enum", "multi": "multi", "number": "number", "boolean": "boolean"}
LABEL_CHARS = 200


def option_value(option: Any) -> str:
    return f"{option.id}{SEPARATOR}{option.text.zh} / {option.text.en}"


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def questions(q: Questionnaire) -> list[Any]:
    return [question for dimension in q.dimensions for indicator in dimension.indicators
            for question in indicator.questions]


def form_fields(q: Questionnaire) -> list[dict[str, Any]]:
    """One form field per question, in the questionnaire's order (app.yaml's shape)."""
    fields: list[dict[str, Any]] = []
    for question in questions(q):
        kind = str(question.type)
        field: dict[str, Any] = {
            "name": question.id, "type": FORM_TYPES[kind],
            "label": {"zh": _clip(question.text.zh), "en": _clip(question.text.en)}}
        if not question.required:
            field["required"] = False
        if kind in ("single", "multi"):
            field["options"] = [option_value(o) for o in question.options]
        if kind == "number":
            if question.min is not None:
                field["minimum"] = float(question.min)
            if question.max is not None:
                field["maximum"] = float(question.max)
        if kind == "multi":
            field.setdefault("required", False)
        if question.hint is not None:
            field["help"] = {"zh": question.hint.zh[:2000], "en": question.hint.en[:2000]}
        fields.append(field)
    return fields


def answers_from_form(q: Questionnaire, inputs: dict[str, Any]) -> dict[str, Any]:
    """The scorer's answers from a filled form: options by id, other fields dropped."""
    kinds = {question.id: str(question.type) for question in questions(q)}
    answers: dict[str, Any] = {}
    for name, value in inputs.items():
        kind = kinds.get(name)
        if kind is None or value is None:
            continue
        if kind == "single" and isinstance(value, str):
            answers[name] = value.split(SEPARATOR, 1)[0].strip()
        elif kind == "multi" and isinstance(value, list):
            answers[name] = [str(v).split(SEPARATOR, 1)[0].strip() for v in value]
        else:
            answers[name] = value
    return answers
