"""Sample rows for a spec's entities, made deterministically from the field definitions.

Used where the spec (or the model) gives none: every generated project ships sample data that
passes its own validation, so `seed` and the tests always have valid rows to start from.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from maas.factory.spec import Entity, Spec, SpecField

ROWS_PER_ENTITY = 3


def _text(field: SpecField, entity: Entity, i: int) -> str:
    name = field.name
    if re.search(r"(^|_)(code|serial|number|no)($|_)", name):
        value = f"{entity.name[:3].upper()}-{i + 1:03d}"
    elif "email" in name:
        value = f"user{i + 1}@example.com"
    elif re.search(r"phone|mobile|tel", name):
        value = f"1380000{i + 1:04d}"
    elif field.type == "text":
        value = f"{field.label or name} of {entity.label or entity.name} {i + 1}."
    else:
        value = f"{field.label or name} {i + 1}"
    if field.min_length and len(value) < field.min_length:
        value = value.ljust(field.min_length, "x")
    return value[: field.max_length or (5000 if field.type == "text" else 200)]


def _number(field: SpecField, i: int) -> int | float:
    low = field.minimum if field.minimum is not None else 0
    high = field.maximum if field.maximum is not None else low + 100
    step = (high - low) / (ROWS_PER_ENTITY + 1)
    value = low + step * (i + 1)
    return int(value) if field.type == "integer" else round(value, 2)


def sample_value(field: SpecField, entity: Entity, i: int, rows_of: dict[str, int],
                 today: date) -> Any:
    if field.type in ("string", "text"):
        return _text(field, entity, i)
    if field.type in ("integer", "number"):
        return _number(field, i)
    if field.type == "boolean":
        return i % 2 == 0
    if field.type == "date":
        return (today + timedelta(days=7 * (i - 1))).isoformat()
    if field.type == "datetime":
        return f"{(today + timedelta(days=7 * (i - 1))).isoformat()}T08:00:00"
    if field.type == "choice":
        return field.choices[i % len(field.choices)]
    if field.type == "reference":
        assert field.target is not None
        return i % max(rows_of.get(field.target, 1), 1) + 1
    return None  # images are uploaded, not seeded


def sample_rows(spec: Spec, today: date) -> dict[str, list[dict[str, Any]]]:
    """The spec's own sample rows where it has them, otherwise made from the fields."""
    rows_of = {e.name: len(spec.sample_data.get(e.name) or []) or ROWS_PER_ENTITY
               for e in spec.entities}
    out: dict[str, list[dict[str, Any]]] = {}
    for entity in spec.entities:
        given = spec.sample_data.get(entity.name)
        if given:
            out[entity.name] = [dict(row) for row in given]
            continue
        out[entity.name] = [
            {f.name: sample_value(f, entity, i, rows_of, today)
             for f in entity.fields if f.type != "image"}
            for i in range(ROWS_PER_ENTITY)]
    return out


def check_sample_rows(spec: Spec, rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Problems with (e.g. model-written) sample rows: unknown fields, wrong types, bad refs."""
    problems: list[str] = []
    for entity in spec.entities:
        for n, row in enumerate(rows.get(entity.name, []), start=1):
            where = f"sample {entity.name} #{n}"
            for key, value in row.items():
                field = entity.field(key)
                if field is None:
                    problems.append(f"{where}: unknown field {key!r}")
                elif value is not None and not _fits(field, value,
                                                     len(rows.get(field.target or "", []))):
                    problems.append(f"{where}: {key} = {value!r} does not fit {field.type}")
            for field in entity.fields:
                if field.required and field.type not in ("boolean", "image") and \
                        row.get(field.name) in (None, ""):
                    problems.append(f"{where}: required {field.name} is missing")
    return problems


def _fits(field: SpecField, value: Any, parent_rows: int) -> bool:
    kind = field.type
    if kind in ("string", "text"):
        limit = field.max_length or (5000 if kind == "text" else 200)
        return isinstance(value, str) and (field.min_length or 0) <= len(value) <= limit
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if kind == "integer" and not isinstance(value, int):
            return False
        return ((field.minimum is None or value >= field.minimum)
                and (field.maximum is None or value <= field.maximum))
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("date", "datetime"):
        parse = date.fromisoformat if kind == "date" else datetime.fromisoformat
        try:
            return isinstance(value, str) and bool(parse(value))
        except ValueError:
            return False
    if kind == "choice":
        return value in field.choices
    if kind == "reference":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= parent_rows
    return False
