"""The language model's part: descriptions, validation messages and report wording.

Structure never comes from the model. It is asked, with a JSON schema that constrains its
output, only for text the spec leaves empty; an answer is kept only where it fits (length,
the conversation's script, none of the characters that mean markup or templates). What it
proposes becomes a new spec version like any other edit: shown as a diff, then confirmed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from maas.errors import MaasError, UpstreamError
from maas.factory.samples import ROWS_PER_ENTITY, check_sample_rows, sample_rows
from maas.factory.spec import Spec, SpecField, parse_spec

ModelCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_TOKENS = 600
FORBIDDEN = re.compile(r"[{}<>`$\\\x00-\x1f]")
CJK = re.compile(r"[\u4e00-\u9fff]")
LIMITS = {"entities": 200, "reports": 200, "messages": 120}


def _wanted(spec: Spec) -> dict[str, dict[str, str]]:
    """What to ask for: key -> the label it is about, by section."""
    entities = {e.name: e.label or e.name for e in spec.entities if not e.description}
    reports = {r.name: r.label or r.name for r in spec.reports if not r.description}
    messages = {f"{e.name}.{f.name}": f.label or f.name for e in spec.entities
                for f in e.fields if not f.message and (f.type == "choice" or f.required
                                                        and f.type in ("string", "text"))}
    return {"entities": entities, "reports": reports, "messages": messages}


def _sample_fields(spec: Spec) -> dict[str, list[SpecField]]:
    """Entities without sample rows -> their text fields, which the model may write."""
    return {e.name: [f for f in e.fields if f.type in ("string", "text")]
            for e in spec.entities if e.name not in spec.sample_data
            and any(f.type in ("string", "text") for f in e.fields)}


def _schema(wanted: dict[str, dict[str, str]], samples: dict[str, list[SpecField]]
            ) -> dict[str, Any]:
    limits = LIMITS
    properties: dict[str, Any] = {section: {
        "type": "object", "additionalProperties": False, "required": sorted(keys),
        "properties": {k: {"type": "string", "maxLength": limits[section]}
                       for k in sorted(keys)}}
        for section, keys in wanted.items() if keys}
    if samples:
        properties["samples"] = {
            "type": "object", "additionalProperties": False, "required": sorted(samples),
            "properties": {entity: {
                "type": "array", "minItems": ROWS_PER_ENTITY, "maxItems": ROWS_PER_ENTITY,
                "items": {"type": "object", "additionalProperties": False,
                          "required": [f.name for f in fields],
                          "properties": {f.name: {"type": "string",
                                                  "maxLength": min(f.max_length or 80, 80)}
                                         for f in fields}}}
                for entity, fields in samples.items()}}
    return {"type": "object", "additionalProperties": False, "required": sorted(properties),
            "properties": properties}


def _prompt(spec: Spec, wanted: dict[str, dict[str, str]]) -> str:
    language = "Chinese" if spec.language == "zh" else "English"
    lines = [f"Write short {language} texts for a business application: "
             f"{spec.title or spec.name}. {spec.description}".strip(),
             "entities: one sentence saying what each record is for;",
             "reports: one sentence saying what the report shows;",
             "messages: the error shown when a user enters a wrong or empty value;",
             f"samples: {ROWS_PER_ENTITY} realistic example records per entity (text fields).",
             ""]
    for section, keys in wanted.items():
        for key, label in keys.items():
            lines.append(f"{section}.{key}: {label}")
    for entity, fields in _sample_fields(spec).items():
        lines.append(f"samples.{entity}: " + ", ".join(f.label or f.name for f in fields))
    return "\n".join(lines)


def fits(text: Any, language: str, label: str, limit: int = 200) -> bool:
    """Usable text: not cut off at the length limit, not the label again, no markup, and in
    the conversation's script."""
    if not isinstance(text, str):
        return False
    text = text.strip()
    if not 3 <= len(text) < limit or FORBIDDEN.search(text) or text.lower() == label.lower():
        return False
    has_cjk = bool(CJK.search(text))
    return has_cjk if language == "zh" else not has_cjk


async def propose_wording(spec: Spec, call: ModelCall, today: date | None = None
                          ) -> tuple[Spec, list[str]]:
    """A copy of `spec` with the model's texts where they fit, and notes on what was dropped.

    Never raises for a model failure: the spec comes back unchanged, with a note."""
    wanted = _wanted(spec)
    samples = _sample_fields(spec)
    if not any(wanted.values()) and not samples:
        return spec, ["nothing to word: every text is already written"]
    try:
        reply = await call({
            "messages": [{"role": "user", "content": _prompt(spec, wanted)}],
            "max_tokens": MAX_TOKENS, "temperature": 0.2,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "wording", "strict": True, "schema": _schema(wanted, samples)}}})
        content = reply["choices"][0]["message"]["content"] or ""
        proposal = json.loads(content)
    except MaasError as exc:
        if not isinstance(exc, UpstreamError):
            raise  # credits, limits, entitlement: the caller's to see, not a model failure
        return spec, [f"the model gave no usable answer ({exc.message})"]
    except Exception as exc:  # noqa: BLE001 - a model failure leaves the spec as it was
        return spec, [f"the model gave no usable answer ({type(exc).__name__})"]
    if not isinstance(proposal, dict):
        return spec, ["the model's answer was not an object"]
    data = spec.model_dump(mode="json")
    notes: list[str] = []
    kept = 0
    for section, keys in wanted.items():
        answers = proposal.get(section) if isinstance(proposal.get(section), dict) else {}
        for key, label in keys.items():
            text = answers.get(key)
            if not fits(text, spec.language, label, LIMITS[section]):
                notes.append(f"dropped {section}.{key}: {str(text)[:60]!r}")
                continue
            kept += 1
            _put(data, section, key, text.strip())
    notes.insert(0, f"kept {kept} of {sum(map(len, wanted.values()))} texts from the model")
    if samples:
        rows, sample_notes = _merge_samples(spec, samples, proposal.get("samples"),
                                            today or date.today())
        data["sample_data"] = {**spec.sample_data, **rows}
        notes += sample_notes
    return parse_spec(data), notes


def spec_entity_label(spec: Spec, name: str) -> str:
    entity = spec.entity(name)
    return (entity.label or entity.name) if entity else name


def _text_fits(field: SpecField, value: Any) -> bool:
    if not isinstance(value, str) or FORBIDDEN.search(value):
        return False
    limit = field.max_length or (5000 if field.type == "text" else 200)
    return max(field.min_length or 0, 1) <= len(value.strip()) <= limit


def _merge_samples(spec: Spec, samples: dict[str, list[SpecField]], proposal: Any,
                   today: date) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Deterministic sample rows with the model's text values laid over them where they fit;
    an entity whose rows would then break the spec keeps the deterministic ones."""
    base = sample_rows(spec, today)
    proposal = proposal if isinstance(proposal, dict) else {}
    out: dict[str, list[dict[str, Any]]] = {}
    notes: list[str] = []
    for entity, fields in samples.items():
        rows = [dict(row) for row in base[entity]]
        answers = proposal.get(entity) if isinstance(proposal.get(entity), list) else []
        labels = [x.lower() for x in (spec_entity_label(spec, entity),) if len(x) >= 3]
        for field in fields:
            values = [a.get(field.name) if isinstance(a, dict) else None for a in answers]
            strings = [v.strip().lower() for v in values if isinstance(v, str)]
            echo = labels + ([field.label.lower()] if len(field.label) >= 3 else [])
            for row, value in zip(rows, values, strict=False):
                # An example, not a description of one: no labels echoed, no value twice.
                if (_text_fits(field, value) and strings.count(value.strip().lower()) == 1
                        and not any(word in value.lower() for word in echo)):
                    row[field.name] = value.strip()
        for field in fields:
            if field.unique and len({r[field.name] for r in rows}) < len(rows):
                for row, original in zip(rows, base[entity], strict=True):
                    row[field.name] = original[field.name]
        problems = check_sample_rows(spec, {**base, entity: rows})
        if problems:
            notes.append(f"samples.{entity}: kept the built-in rows ({problems[0]})")
            rows = base[entity]
        out[entity] = rows
    return out, notes


def _put(data: dict[str, Any], section: str, key: str, text: str) -> None:
    if section == "entities":
        next(e for e in data["entities"] if e["name"] == key)["description"] = text
    elif section == "reports":
        next(r for r in data["reports"] if r["name"] == key)["description"] = text
    else:
        entity, field = key.split(".", 1)
        target = next(e for e in data["entities"] if e["name"] == entity)
        next(f for f in target["fields"] if f["name"] == field)["message"] = text[:200]
