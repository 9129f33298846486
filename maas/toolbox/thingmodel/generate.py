"""Generate a thing model: deterministic extraction, plus a language model's proposal.

The extractor runs first and is authoritative for what it read (numbers, units, types from a
table or a sentence). The model, asked with a schema-constrained `response_format`, may add
names, descriptions, and properties/events/services the extractor missed; numbers it proposes
are kept only when they appear in the source text (a small model invents ranges), units only
when the catalogue knows them. Whatever goes wrong with the model (garbage, an exception), the
extraction alone is a valid result.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from maas.toolbox.thingmodel.datasheet import extract_thing_model
from maas.toolbox.thingmodel.normalise import fit_identifier, identifier_from_name, snake
from maas.toolbox.thingmodel.normalise import normalise_draft as _normalise
from maas.toolbox.thingmodel.proposal import detect_language, proposal_payload, read_proposal
from maas.toolbox.thingmodel.schema import ThingModel, parse_thing_model
from maas.toolbox.thingmodel.units import UnitCatalogue
from maas.toolbox.thingmodel.validate import validate_platform
from maas.toolbox.thingmodel.values import NUM, clean_text, to_number

Call = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class GenerationResult:
    thing_model: ThingModel
    notes: list[str] = field(default_factory=list)
    proposal_valid: bool = False


def source_numbers(text: str) -> set[float]:
    """Every number written in the text (as absolute values: "±10" states 10 and -10)."""
    numbers = (to_number(m) for m in re.findall(NUM, clean_text(text)))
    return {abs(n) for n in numbers if n is not None}


def _ident(item: dict[str, Any], kind: str) -> str | None:
    given = item.get("identifier")
    ident = snake(given) if isinstance(given, str) and given.isascii() else ""
    ident = ident or identifier_from_name(str(item.get("name") or "")) or ""
    return fit_identifier(ident, kind) if ident else None


def _match(items: list[dict[str, Any]], ident: str, name: str) -> dict[str, Any] | None:
    name = name.strip().casefold()
    return next((i for i in items if i["identifier"] == ident
                 or (name and i["name"].strip().casefold() == name)), None)


class ProposalMerger:
    """Folds a proposal into the extracted document, noting each thing it drops."""

    def __init__(self, doc: dict[str, Any], text: str, units: UnitCatalogue) -> None:
        self.doc, self.units, self.notes = doc, units, []
        self.numbers = source_numbers(text)

    def merge(self, proposal: dict[str, Any]) -> dict[str, Any]:
        doc = self.doc
        if not doc["description"] and isinstance(proposal.get("description"), str):
            doc["description"] = proposal["description"][:300]
        for raw in _dicts(proposal.get("properties")):
            self._property(raw)
        for section, kind in (("events", "event"), ("services", "service")):
            for raw in _dicts(proposal.get(section)):
                self._interaction(section, kind, raw)
        return doc

    def _describe(self, target: dict[str, Any], raw: dict[str, Any]) -> None:
        if not target.get("description") and isinstance(raw.get("description"), str):
            target["description"] = raw["description"][:300]

    def _property(self, raw: dict[str, Any]) -> None:
        ident = _ident(raw, "prop")
        if ident is None:
            self.notes.append("model property without a usable name or identifier dropped")
            return
        existing = _match(self.doc["properties"], ident, str(raw.get("name") or ""))
        if existing is not None:
            self._describe(existing, raw)
            return
        kind = raw.get("type") if raw.get("type") in (
            "int", "float", "double", "text", "bool", "enum", "date") else "float"
        specs: dict[str, Any] = {}
        if kind in ("int", "float", "double"):
            for key in ("min", "max", "step"):
                value = raw.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    if abs(value) in self.numbers:
                        specs[key] = value
                    else:
                        self.notes.append(f"model property {ident}: {key} {value} is not in "
                                          "the source text; dropped")
            unit = raw.get("unit")
            if isinstance(unit, str) and unit.strip():
                found = self.units.normalise(unit)
                if found is None:
                    self.notes.append(f"model property {ident}: unit {unit!r} unknown; "
                                      "dropped")
                else:
                    specs["unit"] = found.symbol
        elif kind == "enum":
            labels = [x for x in raw.get("enum_labels") or [] if isinstance(x, str) and x]
            if len(labels) < 2:
                self.notes.append(f"model property {ident}: enum without labels, kept as text")
                kind = "text"
            else:
                specs = {"values": {str(i): label for i, label in enumerate(labels)}}
        self.doc["properties"].append({
            "identifier": ident, "name": str(raw.get("name") or ident),
            "description": str(raw.get("description") or ""),
            "access": raw.get("access") if raw.get("access") in ("r", "rw") else "r",
            "data_type": {"type": kind, "specs": specs}})
        self.notes.append(f"model added property {ident}")

    def _params(self, refs: Any, owner: str) -> list[dict[str, Any]]:
        params = []
        for ref in refs if isinstance(refs, list) else []:
            prop = next((p for p in self.doc["properties"]
                         if isinstance(ref, str) and p["identifier"] == snake(ref)), None)
            if prop is None:
                self.notes.append(f"{owner}: reference {ref!r} is not a property; dropped")
                continue
            params.append({"identifier": prop["identifier"], "name": prop["name"],
                           "data_type": prop["data_type"]})
        return params

    def _interaction(self, section: str, kind: str, raw: dict[str, Any]) -> None:
        ident = _ident(raw, kind)
        if ident is None:
            self.notes.append(f"model {kind} without a usable name or identifier dropped")
            return
        existing = _match(self.doc[section], ident, str(raw.get("name") or ""))
        if existing is not None:
            self._describe(existing, raw)
            return
        item = {"identifier": ident, "name": str(raw.get("name") or ident),
                "description": str(raw.get("description") or "")}
        if section == "events":
            item["type"] = raw.get("type") if raw.get("type") in ("info", "alert",
                                                                  "error") else "info"
            item["output"] = self._params(raw.get("outputs"), f"model event {ident}")
        else:
            item["call_type"] = raw.get("call_type") if raw.get("call_type") in (
                "sync", "async") else "async"
            item["input"] = self._params(raw.get("inputs"), f"model service {ident}")
            item["output"] = self._params(raw.get("outputs"), f"model service {ident}")
        self.doc[section].append(item)
        self.notes.append(f"model added {kind} {ident}")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)][:64] if isinstance(value, list) else []


async def generate_thing_model(text: str, *, call: Call | None, model: str, language: str = "auto",
                               name: str | None = None,
                               units: UnitCatalogue | None = None) -> GenerationResult:
    """A validated thing model for `text` (description or datasheet), with notes."""
    units = units or UnitCatalogue()
    extracted, notes = extract_thing_model(text, name=name, units=units)
    if call is None:
        notes.append("no model asked: the result is the extractor's alone")
        return GenerationResult(extracted, notes, False)
    language = detect_language(text) if language == "auto" else language
    payload = proposal_payload(text, model=model, language=language, extracted=extracted)
    try:
        response = await call(payload)
    except Exception as exc:  # any failure of the model path leaves the extraction standing
        notes.append(f"model call failed ({type(exc).__name__}: {str(exc)[:200]}); "
                     "extraction only")
        return GenerationResult(extracted, notes, False)
    proposal, valid, more = read_proposal(response)
    notes.extend(more)
    if proposal is None:
        return GenerationResult(extracted, notes, False)
    merger = ProposalMerger(extracted.model_dump(mode="json"), text, units)
    draft = merger.merge(proposal)
    notes.extend(merger.notes)
    if not name and extracted.name == "Device" and isinstance(proposal.get("name"), str) \
            and proposal["name"].strip():
        draft["name"], draft["identifier"] = proposal["name"].strip()[:80], None
    doc, more = _normalise(draft, units)
    notes.extend(more)
    errors = validate_platform(doc)
    if errors:
        notes.append(f"merged model invalid ({errors[0]}); extraction only")
        return GenerationResult(extracted, notes, valid)
    return GenerationResult(parse_thing_model(doc), notes, valid)
