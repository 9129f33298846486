"""Read requirement sentences (English or Chinese) into edits of a draft spec.

Deterministic on purpose: the same words always make the same spec, and every edit is shown
to the user as a spec diff before anything is generated. What a sentence does not say in a
form this reader knows is reported back as not understood, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from maas.factory import vocabulary as V
from maas.factory.naming import CJK, identifier_for, plural_of, singular_of, unique_name

Draft = dict[str, Any]
ITEM_SPLIT = re.compile(r"[,，、;；]|\s+and\s+|\s*和\s*|\s*及\s*|\s*以及\s*")


@dataclass
class Reading:
    """What one message did: edits made, statements not understood, a confirmation asked."""

    notes: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)
    confirm: bool = False


def statements(text: str) -> list[str]:
    """Sentences and lines, keeping a field list's inner commas together."""
    parts = re.split(r"\n+|(?<=[。！？!?])|(?<=\.)\s+(?=[A-Z\u3400-\u9fff])", text)
    return [p.strip(" .。") for p in parts if p and p.strip(" .。")]


def split_items(text: str) -> list[str]:
    """Split a list on commas / 、 / and, but not inside parentheses."""
    items, depth, current = [], 0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        depth += ch in "(（"
        depth -= ch in ")）"
        match = ITEM_SPLIT.match(text, i) if depth == 0 else None
        if match and match.end() > i:
            items.append(current)
            current = ""
            i = match.end()
            continue
        current += ch
        i += 1
    items.append(current)
    return [s.strip(" .。:：") for s in items if s.strip(" .。:：")]


def _lower(text: str) -> str:
    return text.lower().strip()


def entity_matches(draft: Draft, text: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(start, end, entity) for every mention of a known entity, longest first, no overlap."""
    found: list[tuple[int, int, dict[str, Any]]] = []
    low = text.lower()
    candidates: list[tuple[str, dict[str, Any]]] = []
    for e in draft["entities"]:
        for name in {e["label"], e["name"].replace("_", " "), e.get("plural", "").replace(
                "_", " "), _plural_label(e["label"])}:
            if name:
                candidates.append((name.lower(), e))
    for name, e in sorted(candidates, key=lambda c: -len(c[0])):
        for m in re.finditer(re.escape(name) + ("" if CJK.search(name) else r"\b"), low):
            if not any(s < m.end() and m.start() < t for s, t, _ in found):
                found.append((m.start(), m.end(), e))
    return sorted(found, key=lambda f: f[0])


def _plural_label(label: str) -> str:
    """"Inspection record" -> "Inspection records", by the same rules as entity plurals."""
    if CJK.search(label) or not label:
        return label
    head, _, last = label.rpartition(" ")
    return f"{head} {plural_of(last.lower())}" if head else plural_of(last.lower())


def find_entity(draft: Draft, text: str) -> dict[str, Any] | None:
    found = entity_matches(draft, text)
    return found[0][2] if found else None


def add_entity(draft: Draft, label: str, reading: Reading) -> dict[str, Any] | None:
    label = re.sub(r"^(an?|the|each|every|all)\s+", "", label.strip(), flags=re.I)
    if not CJK.search(label):
        words = label.split()
        if words:
            words[-1] = singular_of(words[-1])
        label = " ".join(words)
        label = label[:1].upper() + label[1:]
    existing = find_entity(draft, label)
    if existing is not None and existing["label"].lower() == label.lower():
        return existing
    name = identifier_for(label, "entity", singular=True)
    if name is None:
        reading.not_understood.append(f"cannot make a name for {label!r}")
        return None
    name = unique_name(name, {e["name"] for e in draft["entities"]})
    entity = {"name": name, "label": label[:80], "fields": []}
    draft["entities"].append(entity)
    reading.notes.append(f"+ entity {name} ({label})")
    return entity


def parse_field(draft: Draft, entity: dict[str, Any], item: str) -> dict[str, Any] | None:
    """`serial number (unique, required)` / `状态（在用/停用）` -> a field definition."""
    match = re.match(r"^(.*?)\s*[(（](.*)[)）]\s*$", item)
    label, attrs = (match.group(1), match.group(2)) if match else (item, "")
    label = re.sub(r"^(an?|the)\s+", "", label.strip(), flags=re.I)
    if not label:
        return None
    taken = {f["name"] for f in entity["fields"]}
    # A name the term table cannot translate gets a neutral one; the label keeps the words.
    name = identifier_for(label, "field") or unique_name(f"field_{len(taken) + 1}", taken)
    out: dict[str, Any] = {"name": name, "label": label[:80]}
    for attr in [a.strip() for a in re.split(r"[,，、;；]", attrs) if a.strip()]:
        _apply_attribute(draft, out, attr)
    if "type" not in out:
        target = find_entity(draft, label)
        if target is not None and target is not entity:
            out.update(type="reference", target=target["name"])
        else:
            out["type"] = next((kind for pattern, kind in V.NAME_HINTS
                                if re.search(pattern, label.lower())), "string")
    if out["type"] == "reference" and out.get("target") is None:
        out["type"] = "string"
    if out["type"] == "choice" and not out.get("choices"):
        out["type"] = "string"
    if out["type"] not in ("string", "text"):
        out.pop("max_length", None)
    if out["type"] in ("image", "boolean"):
        out.pop("unique", None)
    return out


def _apply_attribute(draft: Draft, out: dict[str, Any], attr: str) -> None:
    low = _lower(attr)
    if low in V.REQUIRED:
        out["required"] = True
    elif low in V.OPTIONAL:
        out["required"] = False
    elif low in V.UNIQUE:
        out["unique"] = True
    elif low in V.TYPE_WORDS:
        out["type"] = V.TYPE_WORDS[low]
    elif "/" in attr and low not in V.TYPE_WORDS:
        out["type"] = "choice"
        out["choices"] = [c.strip() for c in attr.split("/") if c.strip()][:30]
    elif m := re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:-|~|～|to|到|至)\s*(-?\d+(?:\.\d+)?)", low):
        out["minimum"], out["maximum"] = float(m.group(1)), float(m.group(2))
        out.setdefault("type", "number" if "." in low else "integer")
    elif m := re.fullmatch(r"(?:max(?:imum)?|最多|不超过)\s*(\d+)\s*(?:chars?|characters?|字)",
                           low):
        out["max_length"] = int(m.group(1))
    elif m := re.fullmatch(r"(?:->|→|refers to|references|belongs to|引用|关联)\s*(.+)", low):
        target = find_entity(draft, m.group(1))
        if target is not None:
            out.update(type="reference", target=target["name"])
    elif (target := find_entity(draft, attr)) is not None:
        out.update(type="reference", target=target["name"])
    else:
        out.setdefault("description", attr[:500])


def set_fields(draft: Draft, entity: dict[str, Any], items: list[str], reading: Reading) -> None:
    for item in items:
        parsed = parse_field(draft, entity, item)
        if parsed is None:
            reading.not_understood.append(item)
            continue
        existing = next((f for f in entity["fields"] if f["name"] == parsed["name"]), None)
        if existing is not None:
            existing.clear()
            existing.update(parsed)
            reading.notes.append(f"~ {entity['name']}.{parsed['name']} ({parsed['type']})")
        else:
            entity["fields"].append(parsed)
            reading.notes.append(f"+ {entity['name']}.{parsed['name']} ({parsed['type']})")


def add_reference(child: dict[str, Any], parent: dict[str, Any], reading: Reading) -> None:
    if any(f.get("target") == parent["name"] for f in child["fields"]):
        return
    name = unique_name(parent["name"], {f["name"] for f in child["fields"]})
    child["fields"].append({"name": name, "label": parent["label"], "type": "reference",
                            "target": parent["name"], "required": True})
    reading.notes.append(f"+ {child['name']}.{name} -> {parent['name']}")
