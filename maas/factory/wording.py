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
from typing import Any

from maas.errors import MaasError, UpstreamError
from maas.factory.spec import Spec, parse_spec

ModelCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_TOKENS = 600
FORBIDDEN = re.compile(r"[{}<>`$\\\x00-\x1f]")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _wanted(spec: Spec) -> dict[str, dict[str, str]]:
    """What to ask for: key -> the label it is about, by section."""
    entities = {e.name: e.label or e.name for e in spec.entities if not e.description}
    reports = {r.name: r.label or r.name for r in spec.reports if not r.description}
    messages = {f"{e.name}.{f.name}": f.label or f.name for e in spec.entities
                for f in e.fields if not f.message and (f.type == "choice" or f.required
                                                        and f.type in ("string", "text"))}
    return {"entities": entities, "reports": reports, "messages": messages}


def _schema(wanted: dict[str, dict[str, str]]) -> dict[str, Any]:
    limits = {"entities": 200, "reports": 200, "messages": 120}
    return {"type": "object", "additionalProperties": False,
            "required": [s for s in wanted if wanted[s]],
            "properties": {section: {
                "type": "object", "additionalProperties": False, "required": sorted(keys),
                "properties": {k: {"type": "string", "maxLength": limits[section]}
                               for k in sorted(keys)}}
                for section, keys in wanted.items() if keys}}


def _prompt(spec: Spec, wanted: dict[str, dict[str, str]]) -> str:
    language = "Chinese" if spec.language == "zh" else "English"
    lines = [f"Write short {language} texts for a business application: "
             f"{spec.title or spec.name}. {spec.description}".strip(),
             "entities: one sentence saying what each record is for;",
             "reports: one sentence saying what the report shows;",
             "messages: the error shown when a user enters a wrong or empty value.", ""]
    for section, keys in wanted.items():
        for key, label in keys.items():
            lines.append(f"{section}.{key}: {label}")
    return "\n".join(lines)


def fits(text: Any, language: str, label: str) -> bool:
    if not isinstance(text, str):
        return False
    text = text.strip()
    if not 3 <= len(text) <= 200 or FORBIDDEN.search(text) or text.lower() == label.lower():
        return False
    has_cjk = bool(CJK.search(text))
    return has_cjk if language == "zh" else not has_cjk


async def propose_wording(spec: Spec, call: ModelCall) -> tuple[Spec, list[str]]:
    """A copy of `spec` with the model's texts where they fit, and notes on what was dropped.

    Never raises for a model failure: the spec comes back unchanged, with a note."""
    wanted = _wanted(spec)
    if not any(wanted.values()):
        return spec, ["nothing to word: every text is already written"]
    try:
        reply = await call({
            "messages": [{"role": "user", "content": _prompt(spec, wanted)}],
            "max_tokens": MAX_TOKENS, "temperature": 0.2,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "wording", "strict": True, "schema": _schema(wanted)}}})
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
            if not fits(text, spec.language, label):
                notes.append(f"dropped {section}.{key}: {str(text)[:60]!r}")
                continue
            kept += 1
            _put(data, section, key, text.strip())
    notes.insert(0, f"kept {kept} of {sum(map(len, wanted.values()))} texts from the model")
    return parse_spec(data), notes


def _put(data: dict[str, Any], section: str, key: str, text: str) -> None:
    if section == "entities":
        next(e for e in data["entities"] if e["name"] == key)["description"] = text
    elif section == "reports":
        next(r for r in data["reports"] if r["name"] == key)["description"] = text
    else:
        entity, field = key.split(".", 1)
        target = next(e for e in data["entities"] if e["name"] == entity)
        next(f for f in target["fields"] if f["name"] == field)["message"] = text[:200]
