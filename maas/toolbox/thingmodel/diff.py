"""Differences between two versions of a thing model, for people and for code.

Items are matched by identifier (not position), so reordering is no change and a renamed
identifier reads as one removal plus one addition, which is what it is for devices already
reporting under the old identifier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from maas.toolbox.thingmodel.schema import ThingModel

SECTIONS = (("properties", "property"), ("events", "event"), ("services", "service"))
PARAM_LISTS = ("output", "input", "fields")


@dataclass(frozen=True)
class Change:
    """One difference; `path` is dotted with identifiers for list items, e.g.
    `properties.output_frequency.data_type.specs.max`."""

    kind: Literal["added", "removed", "changed"]
    path: str
    old: Any = None
    new: Any = None


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["identifier"]: item for item in items}


def _diff_lists(path: str, old: list[Any], new: list[Any], out: list[Change]) -> None:
    if all(isinstance(x, dict) and "identifier" in x for x in [*old, *new]):
        before, after = _by_id(old), _by_id(new)
        for ident, item in before.items():
            if ident not in after:
                out.append(Change("removed", f"{path}.{ident}", old=item))
            else:
                _diff(f"{path}.{ident}", item, after[ident], out)
        for ident, item in after.items():
            if ident not in before:
                out.append(Change("added", f"{path}.{ident}", new=item))
    elif old != new:
        out.append(Change("changed", path, old, new))


def _diff(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        if path.endswith("data_type") and old.get("type") != new.get("type"):
            out.append(Change("changed", f"{path}.type", old.get("type"), new.get("type")))
            if old.get("specs") != new.get("specs"):
                out.append(Change("changed", f"{path}.specs", old.get("specs"), new.get("specs")))
            return
        for key in old:
            if key not in new:
                out.append(Change("removed", f"{path}.{key}", old=old[key]))
            else:
                _diff(f"{path}.{key}", old[key], new[key], out)
        for key in new:
            if key not in old:
                out.append(Change("added", f"{path}.{key}", new=new[key]))
    elif isinstance(old, list) and isinstance(new, list):
        _diff_lists(path, old, new, out)
    elif old != new or type(old) is not type(new) and not _same_number(old, new):
        out.append(Change("changed", path, old, new))


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return isinstance(a, numbers) and isinstance(b, numbers) and a == b


def diff_thing_models(old: ThingModel, new: ThingModel) -> list[Change]:
    """Every difference from `old` to `new`, in document order (old's order, then additions)."""
    a, b = old.model_dump(mode="json"), new.model_dump(mode="json")
    out: list[Change] = []
    for key in ("identifier", "name", "description"):
        if a[key] != b[key]:
            out.append(Change("changed", key, a[key], b[key]))
    for section, _ in SECTIONS:
        _diff_lists(section, a[section], b[section], out)
    return out


def _summary(item: dict[str, Any]) -> str:
    """"(float, A)" for a property or param, "(error)" for an event, "(sync)" for a service."""
    data_type = item.get("data_type")
    if data_type:
        unit = data_type.get("specs", {}).get("unit") if isinstance(
            data_type.get("specs"), dict) else None
        return f"({data_type['type']}{', ' + unit if unit else ''})"
    if "call_type" in item:
        return f"({item['call_type']})"
    if "type" in item:
        return f"({item['type']})"
    return ""


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value if value and value.strip() == value else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


def format_diff(changes: list[Change]) -> str:
    """Readable lines: `+ property output_current (float, A)`,
    `~ properties.output_frequency.specs.max: 400 -> 500`, `- event overheat`."""
    singular = dict(SECTIONS)
    lines = []
    for change in changes:
        parts = change.path.split(".")
        shown = change.path.replace(".data_type.", ".")
        if change.kind == "changed":
            lines.append(f"~ {shown}: {_value(change.old)} -> {_value(change.new)}")
            continue
        sign = "+" if change.kind == "added" else "-"
        item = change.new if change.kind == "added" else change.old
        if len(parts) == 2 and parts[0] in singular:
            label = f"{singular[parts[0]]} {parts[1]}"
        else:
            label = shown
        summary = _summary(item) if isinstance(item, dict) and "identifier" in item else (
            f"= {_value(item)}")
        lines.append(f"{sign} {label} {summary}".rstrip())
    return "\n".join(lines) if lines else "no changes"
