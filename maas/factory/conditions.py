"""Report conditions -> a SQL expression for the generated report, and test values for it.

The generated test of a report needs, for every report, one record that meets all of its
conditions and one that misses the first; both are computed here from the same condition
the query is written from, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from maas.factory.spec import Condition, Entity, Report, SpecField

SQL_OPS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _column(field: SpecField) -> str:
    return f"{field.name}_id" if field.type == "reference" else field.name


def _days(value: str) -> int | None:
    """`today` -> 0, `today-3` -> -3; None for a fixed date."""
    match = re.fullmatch(r"today([+-]\d+)?", value)
    return int(match.group(1) or 0) if match else None


def _sql_value(field: SpecField, value: Any) -> str:
    if field.type in ("date", "datetime") and isinstance(value, str):
        days = _days(value)
        if days is not None:
            return f"{'start_of_day' if field.type == 'datetime' else 'days_from_today'}({days})"
        if field.type == "date":
            return f"date.fromisoformat({value!r})"
        return f"datetime.fromisoformat({value!r}).replace(tzinfo=UTC)"
    if field.type == "integer" and isinstance(value, float) and value.is_integer():
        return repr(int(value))
    return repr(value)


def where_expression(cls: str, entity: Entity, condition: Condition) -> str:
    field = entity.field(condition.field)
    assert field is not None
    column = f"col({cls}.{_column(field)})"
    if condition.op == "empty":
        return f"{column}.is_(None)"
    if condition.op == "not_empty":
        return f"{column}.is_not(None)"
    if condition.op == "contains":
        return f"{column}.contains({condition.value!r})"
    return f"{column} {SQL_OPS[condition.op]} {_sql_value(field, condition.value)}"


#: Days from the compared day: (a value that meets the condition, one that misses it).
DAY_OFFSETS = {"lt": (-5, 5), "le": (0, 5), "gt": (5, -5), "ge": (0, -5), "eq": (0, 3),
               "ne": (3, 0)}


def _date_pair(field: SpecField, condition: Condition) -> tuple[str, str]:
    """(meets, misses) as expressions for the generated test (`days(n)` is a helper there).

    Datetimes are written at midnight, so they compare with a day exactly as the report's
    `start_of_day` does, and one offset table serves dates and datetimes alike."""
    value = str(condition.value)
    suffix = "T00:00:00" if field.type == "datetime" else ""
    meets, misses = DAY_OFFSETS[condition.op]
    base = _days(value)
    if base is None:  # a fixed date: shift the literal
        day = date.fromisoformat(value)
        meet_day, miss_day = (day + timedelta(days=o) for o in (meets, misses))
        return repr(meet_day.isoformat() + suffix), repr(miss_day.isoformat() + suffix)
    tail = f" + {suffix!r}" if suffix else ""
    return f"days({base + meets}){tail}", f"days({base + misses}){tail}"


def _pair(field: SpecField, condition: Condition) -> tuple[str, str]:
    op, value = condition.op, condition.value
    if op == "empty":
        return "None", repr(_some_value(field))
    if op == "not_empty":
        return repr(_some_value(field)), "None"
    if field.type in ("date", "datetime"):
        return _date_pair(field, condition)
    if field.type in ("integer", "number"):
        assert isinstance(value, int | float)
        v = int(value) if field.type == "integer" else float(value)
        step = 1 if field.type == "integer" else 0.5
        meets, misses = {"lt": (v - step, v + step), "le": (v, v + step),
                         "gt": (v + step, v - step), "ge": (v, v - step),
                         "eq": (v, v + step), "ne": (v + step, v)}[op]
        return repr(meets), repr(misses)
    if field.type == "boolean":
        return (repr(value), repr(not value)) if op == "eq" else (repr(not value), repr(value))
    if field.type == "choice":
        other = next(c for c in field.choices if c != value)
        return (repr(value), repr(other)) if op == "eq" else (repr(other), repr(value))
    text = str(value)
    if op == "contains":
        return repr(f"a {text} b"), repr("-" if "-" not in text else "+")
    other = text + "x"
    return (repr(text), repr(other)) if op == "eq" else (repr(other), repr(text))


def _some_value(field: SpecField) -> Any:
    return {"string": "x", "text": "x", "integer": 1, "number": 1.0, "boolean": True,
            "date": "2024-01-01", "datetime": "2024-01-01T00:00:00",
            "choice": field.choices[0] if field.choices else None}.get(field.type)


def report_case(entity: Entity, report: Report) -> dict[str, str]:
    """The generated test's case: values meeting every condition, and missing the first."""
    meets: dict[str, str] = {}
    misses: dict[str, str] = {}
    for n, condition in enumerate(report.where):
        field = entity.field(condition.field)
        assert field is not None
        good, bad = _pair(field, condition)
        meets[_column(field)] = good
        misses[_column(field)] = bad if n == 0 else misses.get(_column(field), good)
    return {"name": report.name, "plural": entity.plural, "match": _dict_code(meets),
            "miss": _dict_code(misses)}


def _dict_code(values: dict[str, str]) -> str:
    """A dict display whose values are already Python expressions."""
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in values.items()) + "}"
