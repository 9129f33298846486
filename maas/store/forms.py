"""Form-style apps: checking a run's inputs against the app's form, and turning them into
the prompt's variables and the run's user message."""

from __future__ import annotations

import math
from typing import Any

from maas.catalog.apps import FormField
from maas.errors import InvalidRequest


def _bad(field: FormField, message: str) -> InvalidRequest:
    return InvalidRequest(f"inputs.{field.name}: {message}", param=f"inputs.{field.name}")


def _number(field: FormField, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise _bad(field, "must be a number")
    if field.type == "integer" and not float(value).is_integer():
        raise _bad(field, "must be a whole number")
    if field.minimum is not None and value < field.minimum:
        raise _bad(field, f"must be at least {field.minimum:g}")
    if field.maximum is not None and value > field.maximum:
        raise _bad(field, f"must be at most {field.maximum:g}")
    return int(value) if field.type == "integer" else value


def _value(field: FormField, value: Any) -> Any:
    if field.type in ("number", "integer"):
        return _number(field, value)
    if field.type == "boolean":
        if not isinstance(value, bool):
            raise _bad(field, "must be true or false")
        return value
    if field.type == "multi":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(field, "must be a list of options")
        unknown = [v for v in value if v not in (field.options or [])]
        if unknown:
            raise _bad(field, f"{unknown[0]!r} is not one of {field.options}")
        if len(set(value)) != len(value):
            raise _bad(field, "lists an option twice")
        return list(value)
    if not isinstance(value, str):
        raise _bad(field, "must be a string")
    value = value.strip()
    if field.type == "enum" and value not in (field.options or []):
        raise _bad(field, f"must be one of {field.options}")
    if len(value) > field.max_length:
        raise _bad(field, f"must be at most {field.max_length} characters")
    if field.required and not value:
        raise _bad(field, "is required")
    return value


def check_inputs(form: list[FormField], inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs, typed and checked; unknown names and missing required fields are 400s."""
    names = {f.name for f in form}
    unknown = sorted(set(inputs) - names)
    if unknown:
        raise InvalidRequest(f"inputs has unknown fields {unknown}; the form has "
                             f"{sorted(names)}", param="inputs")
    values: dict[str, Any] = {}
    for field in form:
        value = inputs.get(field.name, field.default)
        if value is None:
            if field.required:
                raise _bad(field, "is required")
            continue
        values[field.name] = _value(field, value)
    return values


def as_text(value: Any, language: str) -> str:
    if isinstance(value, bool):
        return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "-"
    return str(value)


def variables(form: list[FormField], values: dict[str, Any], language: str) -> dict[str, str]:
    return {f.name: as_text(values[f.name], language) if f.name in values else "-"
            for f in form}


def user_message(form: list[FormField], values: dict[str, Any], language: str) -> str:
    """The inputs as labelled lines: the run's user message and its retrieval query."""
    lines = []
    for field in form:
        if field.name in values:
            label = field.label.zh if language == "zh" else field.label.en
            lines.append(f"{label}: {as_text(values[field.name], language)}")
    return "\n".join(lines)
