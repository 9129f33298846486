"""Differences between two spec versions, as the user reads them.

Lists of named things (entities, fields, roles, reports) are matched by name, so reordering
is no change; a whole entity or field added or removed is one line, not one per attribute.
"""

from __future__ import annotations

import json
from typing import Any

from maas.factory.spec import Spec

NAMED_LISTS = ("entities", "fields", "roles", "reports")


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list) and path.rsplit(".", 1)[-1] in NAMED_LISTS and all(
            isinstance(v, dict) and "name" in v for v in value):
        for item in value:
            out[f"{path}.{item['name']}"] = item  # the whole item, for added/removed lines
            _flatten(item, f"{path}.{item['name']}", out)
    else:
        out[path] = value


def diff_specs(old: Spec, new: Spec) -> list[tuple[str, str, Any, Any]]:
    """(kind, path, old, new) with kind "+", "-" or "~"; nested paths of an added or removed
    item are folded into that item's line."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old.model_dump(mode="json", exclude={"sample_data"}), "", before)
    _flatten(new.model_dump(mode="json", exclude={"sample_data"}), "", after)
    changes: list[tuple[str, str, Any, Any]] = []
    folded: list[str] = []
    for path in [*before, *(p for p in after if p not in before)]:
        if any(path.startswith(f + ".") for f in folded):
            continue
        if path not in after:
            changes.append(("-", path, before[path], None))
            folded.append(path)
        elif path not in before:
            changes.append(("+", path, None, after[path]))
            folded.append(path)
        elif before[path] != after[path] and not isinstance(after[path], dict):
            changes.append(("~", path, before[path], after[path]))
    if old.sample_data != new.sample_data:  # rows are data, not requirements: counts only
        changes.append(("~", "sample_data", {k: len(v) for k, v in old.sample_data.items()},
                        {k: len(v) for k, v in new.sample_data.items()}))
    return changes


def _short(value: Any) -> str:
    if isinstance(value, dict) and ("type" in value or "entity" in value or "label" in value):
        kind = value.get("type") or value.get("entity")
        label = value.get("label")
        return " ".join(f"({x})" for x in (kind, label) if x)
    return json.dumps(value, ensure_ascii=False)


def format_spec_diff(changes: list[tuple[str, str, Any, Any]]) -> list[str]:
    """`+ entities.device.fields.due_date (date) (Due date)`, `~ title: "a" -> "b"`."""
    lines = []
    for kind, path, old, new in changes:
        if kind == "~":
            lines.append(f"~ {path}: {_short(old)} -> {_short(new)}")
        else:
            lines.append(f"{kind} {path} {_short(new if kind == '+' else old)}".rstrip())
    return lines
