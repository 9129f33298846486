"""Normalise a draft thing model: identifiers, units, specs, duplicates.

A draft is a dict in the platform document's shape, possibly sloppy (from the extractor or a
language model): wrong-case or Chinese identifiers, unit spellings, min > max, the same
property twice. `normalise_draft` makes it a document `parse_thing_model` accepts, and says
in `notes` what it changed, so a user can see why the result differs from the source.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from maas.toolbox.thingmodel.schema import (
    ARRAY_ITEM_TYPES,
    DATA_TYPES,
    MAX_ARRAY_SIZE,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_TEXT_LENGTH,
    SCHEMA_ID,
)
from maas.toolbox.thingmodel.terms import FILLERS, TERMS
from maas.toolbox.thingmodel.units import UnitCatalogue

MAX_IDENTIFIER = 50  # Alibaba TSL's limit, tighter than the platform's 64
RESERVED = frozenset({
    # TSL's own identifiers and words it reserves
    "set", "get", "post", "property", "event", "service", "time", "value", "thing",
    # words that break generated code (Python, JavaScript, C, SQL)
    "and", "as", "assert", "async", "await", "break", "case", "class", "const", "continue",
    "def", "default", "del", "delete", "do", "else", "enum", "except", "false", "finally",
    "for", "from", "function", "global", "if", "import", "in", "int", "is", "lambda", "new",
    "none", "not", "null", "or", "pass", "raise", "return", "select", "static", "struct",
    "switch", "this", "true", "try", "var", "void", "while", "with", "yield",
})
CJK = re.compile(r"[\u3400-\u9fff]")
ASCII_WORDS = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[ \-_/.][A-Za-z0-9]+)*")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
TYPE_ALIASES = {"integer": "int", "int32": "int", "int16": "int", "uint16": "int",
                "uint32": "int", "long": "int", "number": "float", "float32": "float",
                "real": "float", "float64": "double", "string": "text", "str": "text",
                "boolean": "bool", "datetime": "date", "timestamp": "date", "object": "struct",
                "list": "array"}
ACCESS = {"r": "r", "ro": "r", "read": "r", "readonly": "r", "read-only": "r", "只读": "r",
          "rw": "rw", "r/w": "rw", "wr": "rw", "w": "rw", "write": "rw", "read/write": "rw",
          "read-write": "rw", "读写": "rw", "可读写": "rw", "只写": "rw"}


def snake(text: str) -> str:
    """ASCII words -> snake_case ("Output Frequency" -> "output_frequency")."""
    text = unicodedata.normalize("NFKC", text)
    text = CAMEL.sub("_", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    return re.sub(r"_+", "_", text)


def translate_words(text: str, terms: dict[str, str] = TERMS) -> str | None:
    """Chinese (mixed with ASCII) name -> words from a term table (longest match first), or
    None if not covered."""
    words: list[str] = []
    i = 0
    text = unicodedata.normalize("NFKC", text)
    longest = max(map(len, terms))
    while i < len(text):
        ch = text[i]
        if ch in FILLERS or not (ch.isalnum() or CJK.match(ch)):
            i += 1
            continue
        for size in range(min(longest, len(text) - i), 0, -1):
            term = terms.get(text[i:i + size])
            if term is not None:
                words.append(term)
                i += size
                break
        else:
            if CJK.match(ch):
                return None
            run = re.match(r"[A-Za-z0-9]+", text[i:])
            words.append(run.group(0).lower() if run else ch)
            i += len(run.group(0)) if run else 1
    return "_".join(words) or None


def identifier_from_name(name: str, *, prefer_ascii: bool = False) -> str | None:
    """An identifier derived from a display name, or None when it cannot be done honestly.

    A bilingual name ("A相电压 Phase A voltage") uses its longest English run; a Chinese one
    is translated with the term table; `prefer_ascii` (thing names such as "VFD-300 变频器")
    takes any ASCII model designation first.
    """
    if not name:
        return None
    if not CJK.search(name):
        return fit_identifier(snake(name)) if snake(name) else None
    runs = sorted(ASCII_WORDS.findall(name), key=len, reverse=True)
    english = next((r for r in runs if len(re.sub(r"[^A-Za-z]", "", r)) >= 3), None)
    if prefer_ascii and runs and re.search(r"[A-Za-z]", runs[0]):
        english = english or runs[0]
    for candidate in (english, translate_words(name)):
        ident = snake(candidate or "")
        if ident:
            return fit_identifier(ident)
    return None


def fit_identifier(ident: str, kind: str = "prop") -> str:
    """Make a snake string a valid identifier: starts with a letter, <= 50 chars, not reserved."""
    ident = snake(ident)
    if not ident or not ident[0].isalpha():
        ident = f"{kind}_{ident}".strip("_")
    if len(ident) > MAX_IDENTIFIER:
        ident = ident[:MAX_IDENTIFIER].rsplit("_", 1)[0] if "_" in ident[:MAX_IDENTIFIER] \
            else ident[:MAX_IDENTIFIER]
    if ident in RESERVED:
        ident = f"{ident}_{kind}"
    return ident


def number(value: Any) -> float | None:
    """A spec number from a draft (int, float or numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            return number(float(value.strip().replace("−", "-").replace(",", "")))
        except ValueError:
            return None
    return None


class DraftNormaliser:
    """Normalises one draft; collects notes as it goes."""

    def __init__(self, units: UnitCatalogue | None = None) -> None:
        self.units = units or UnitCatalogue()
        self.notes: list[str] = []

    # -- data types -------------------------------------------------------------------
    def data_type(self, raw: Any, where: str) -> dict[str, Any]:
        raw = raw if isinstance(raw, dict) else {}
        kind = str(raw.get("type") or "text").strip().lower()
        kind = TYPE_ALIASES.get(kind, kind)
        specs = raw.get("specs") if isinstance(raw.get("specs"), dict) else {}
        if kind not in DATA_TYPES:
            self.notes.append(f"{where}: unknown type {kind!r}, kept as text")
            kind = "text"
        if kind in ("int", "float", "double"):
            return self._number(kind, specs, where)
        if kind == "text":
            length = number(specs.get("length"))
            length = int(length) if length and 1 <= length <= MAX_TEXT_LENGTH else 255
            return {"type": "text", "specs": {"length": length}}
        if kind == "bool":
            labels = {k: str(specs.get(k) or default)[:MAX_NAME]
                      for k, default in (("true", "On"), ("false", "Off"))}
            return {"type": "bool", "specs": labels}
        if kind == "enum":
            return self._enum(specs, where)
        if kind == "struct":
            fields = self.params(specs.get("fields"), f"{where}.fields")
            if fields:
                return {"type": "struct", "specs": {"fields": fields}}
            self.notes.append(f"{where}: struct without fields, kept as text")
            return {"type": "text", "specs": {"length": 255}}
        if kind == "array":
            size = number(specs.get("size"))
            size = int(size) if size and 1 <= size <= MAX_ARRAY_SIZE else 10
            item = self.data_type(specs.get("item"), f"{where}.item")
            if item["type"] not in ARRAY_ITEM_TYPES:
                self.notes.append(f"{where}: array of {item['type']} is not allowed in TSL, "
                                  "items kept as text")
                item = {"type": "text", "specs": {"length": 255}}
            return {"type": "array", "specs": {"size": size, "item": item}}
        return {"type": "date", "specs": {}}

    def _number(self, kind: str, specs: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("min", "max", "step"):
            value = number(specs.get(key))
            if value is not None:
                out[key] = value
        if "min" in out and "max" in out and out["min"] > out["max"]:
            self.notes.append(f"{where}: min {out['min']:g} > max {out['max']:g}, swapped")
            out["min"], out["max"] = out["max"], out["min"]
        if "step" in out and out["step"] <= 0:
            self.notes.append(f"{where}: step {out['step']:g} is not > 0, dropped")
            del out["step"]
        if kind == "int" and any(v != int(v) for v in out.values()):
            self.notes.append(f"{where}: fractional bounds/step, type int changed to float")
            kind = "float"
        unit = self.unit(specs.get("unit"), where)
        if unit:
            out["unit"] = unit
        if kind == "int":
            out = {k: int(v) if k != "unit" else v for k, v in out.items()}
        return {"type": kind, "specs": out}

    def unit(self, raw: Any, where: str) -> str | None:
        if not isinstance(raw, str) or not raw.strip():
            return None
        unit = self.units.normalise(raw)
        if unit is not None:
            return unit.symbol
        text = raw.strip()[:32]
        self.notes.append(f"{where}: unit {text!r} is not in the unit catalogue, kept as written")
        return text

    def _enum(self, specs: dict[str, Any], where: str) -> dict[str, Any]:
        raw = specs.get("values") if isinstance(specs.get("values"), dict) else specs
        values: dict[str, str] = {}
        for key, label in raw.items():
            value = number(key)
            if value is None or value != int(value) or not str(label).strip():
                self.notes.append(f"{where}: enum entry {key!r}: {label!r} dropped "
                                  "(keys must be integers, labels non-empty)")
                continue
            values.setdefault(str(int(value)), str(label).strip()[:MAX_NAME])
        if not values:
            self.notes.append(f"{where}: enum without valid values, kept as text")
            return {"type": "text", "specs": {"length": 255}}
        return {"type": "enum", "specs": {"values": dict(sorted(values.items(),
                                                               key=lambda kv: int(kv[0])))}}

    # -- items ---------------------------------------------------------------------------
    def _identity(self, raw: dict[str, Any], index: int, kind: str, where: str
                  ) -> tuple[str, str]:
        name = str(raw.get("name") or "").strip()[:MAX_NAME]
        given = raw.get("identifier")
        ident = snake(given) if isinstance(given, str) and given.isascii() else ""
        if not ident:
            ident = identifier_from_name(name) or f"{kind}_{index + 1}"
        ident = fit_identifier(ident, kind)
        if isinstance(given, str) and given and given != ident:
            self.notes.append(f"{where}: identifier {given!r} normalised to {ident!r}")
        return ident, name or ident.replace("_", " ").capitalize()

    def params(self, raw: Any, where: str) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(item, dict):
                continue
            ident, name = self._identity(item, i, "param", f"{where}[{i}]")
            out.append({"identifier": ident, "name": name,
                        "data_type": self.data_type(item.get("data_type"), f"{where}.{ident}")})
        return self._dedupe(out, where)

    def item(self, raw: dict[str, Any], index: int, section: str) -> dict[str, Any]:
        kind = {"properties": "prop", "events": "event", "services": "service"}[section]
        ident, name = self._identity(raw, index, kind, f"{section}[{index}]")
        where = f"{section}.{ident}"
        out: dict[str, Any] = {"identifier": ident, "name": name,
                               "description": str(raw.get("description") or "")[:MAX_DESCRIPTION]}
        if section == "properties":
            access = str(raw.get("access") or "r").strip().lower().replace(" ", "")
            out["access"] = ACCESS.get(access, "r")
            out["data_type"] = self.data_type(raw.get("data_type"), where)
        elif section == "events":
            kind_ = str(raw.get("type") or "info").lower()
            out["type"] = kind_ if kind_ in ("info", "alert", "error") else "info"
            out["output"] = self.params(raw.get("output"), f"{where}.output")
        else:
            call = str(raw.get("call_type") or "async").lower()
            out["call_type"] = call if call in ("sync", "async") else "async"
            out["input"] = self.params(raw.get("input"), f"{where}.input")
            out["output"] = self.params(raw.get("output"), f"{where}.output")
        return out

    def _dedupe(self, items: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        """Merge items with the same identifier, or the same name and unit (first wins,
        later ones fill what it lacks); then make the remaining identifiers unique."""
        kept: list[dict[str, Any]] = []
        for item in items:
            twin = next((k for k in kept if k["identifier"] == item["identifier"]
                         or _name_unit(k) == _name_unit(item)), None)
            if twin is None:
                kept.append(item)
                continue
            self.notes.append(f"{where}: duplicate {item['identifier']!r} "
                              f"({item['name']}) merged into {twin['identifier']!r}")
            _fill(twin, item)
        return kept

    def draft(self, draft: dict[str, Any]) -> dict[str, Any]:
        name = str(draft.get("name") or "").strip()[:MAX_NAME] or "Device"
        given = draft.get("identifier")
        ident = snake(given) if isinstance(given, str) and given.isascii() else ""
        ident = fit_identifier(ident or identifier_from_name(name, prefer_ascii=True) or "device",
                               "thing")
        doc: dict[str, Any] = {"schema": SCHEMA_ID, "identifier": ident, "name": name,
                               "description": str(draft.get("description") or "")[
                                   :MAX_DESCRIPTION]}
        for section in ("properties", "events", "services"):
            raw = draft.get(section) if isinstance(draft.get(section), list) else []
            items = [self.item(r, i, section) for i, r in enumerate(raw) if isinstance(r, dict)]
            doc[section] = self._dedupe(items, section)
        return doc


def _name_unit(item: dict[str, Any]) -> tuple[str, str | None]:
    specs = (item.get("data_type") or {}).get("specs") or {}
    unit = specs.get("unit") if isinstance(specs, dict) else None
    return re.sub(r"\s+", " ", item["name"]).casefold(), unit


def _fill(target: dict[str, Any], other: dict[str, Any]) -> None:
    if not target.get("description") and other.get("description"):
        target["description"] = other["description"]
    mine, theirs = target.get("data_type"), other.get("data_type")
    if mine and theirs and mine["type"] == theirs["type"] and isinstance(mine["specs"], dict):
        for key, value in theirs["specs"].items():
            mine["specs"].setdefault(key, value)


def normalise_draft(draft: dict[str, Any], units: UnitCatalogue | None = None
                    ) -> tuple[dict[str, Any], list[str]]:
    """(platform document, notes) for a sloppy draft."""
    normaliser = DraftNormaliser(units)
    return normaliser.draft(draft), normaliser.notes
