"""What the language model is asked for, and how its answer is read.

The proposal schema is deliberately small and flat (objects, arrays, enums, short strings,
numbers) so that grammar-constrained decoding (xgrammar on the CPU worker) can enforce it and a
135M model can fill it. Events and services refer to properties by identifier instead of
repeating data types. The answer is read leniently: whatever part is usable is used.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator

from maas.toolbox.thingmodel.schema import ThingModel

MAX_PROMPT_TEXT = 6000
MAX_TOKENS = 1500
_STR = {"type": "string", "maxLength": 60}
_LONG = {"type": "string", "maxLength": 200}
_IDS = {"type": "array", "maxItems": 8, "items": {"type": "string", "maxLength": 50}}
PROPOSAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "description", "properties", "events", "services"],
    "properties": {
        "name": _STR,
        "description": _LONG,
        "properties": {"type": "array", "maxItems": 40, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["identifier", "name", "description", "type", "unit", "min", "max",
                         "step", "access", "enum_labels"],
            "properties": {
                "identifier": {"type": "string", "maxLength": 50}, "name": _STR,
                "description": _LONG,
                "type": {"enum": ["int", "float", "double", "text", "bool", "enum", "date"]},
                "unit": {"type": "string", "maxLength": 16},
                "min": {"type": ["number", "null"]}, "max": {"type": ["number", "null"]},
                "step": {"type": ["number", "null"]},
                "access": {"enum": ["r", "rw"]},
                "enum_labels": {"type": "array", "maxItems": 16, "items": _STR}}}},
        "events": {"type": "array", "maxItems": 20, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["identifier", "name", "description", "type", "outputs"],
            "properties": {"identifier": {"type": "string", "maxLength": 50}, "name": _STR,
                           "description": _LONG, "type": {"enum": ["info", "alert", "error"]},
                           "outputs": _IDS}}},
        "services": {"type": "array", "maxItems": 20, "items": {
            "type": "object", "additionalProperties": False,
            "required": ["identifier", "name", "description", "call_type", "inputs",
                         "outputs"],
            "properties": {"identifier": {"type": "string", "maxLength": 50}, "name": _STR,
                           "description": _LONG, "call_type": {"enum": ["sync", "async"]},
                           "inputs": _IDS, "outputs": _IDS}}},
    },
}
SYSTEM = (
    "You are an industrial IoT engineer. From a device description, write the device's thing "
    "model: properties (values the device measures or that can be set), events (alarms, "
    "faults, notifications) and services (commands). Identifiers are lower snake_case English "
    "words. Keep names in the language of the description. Use only numbers and units that "
    "the description states; write null when it states none. Answer with JSON only."
)


def detect_language(text: str) -> str:
    """"zh" when a noticeable share of the letters are Chinese, else "en"."""
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    letters = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk * 4 >= letters else "en"


def _known(tm: ThingModel) -> str:
    lines = []
    for p in tm.properties:
        unit = getattr(p.data_type.specs, "unit", None)
        lines.append(f"- property {p.identifier}: {p.name} ({p.data_type.type}"
                     f"{', ' + unit if unit else ''}, {p.access})")
    lines += [f"- event {e.identifier}: {e.name} ({e.type})" for e in tm.events]
    lines += [f"- service {s.identifier}: {s.name} ({s.call_type})" for s in tm.services]
    return "\n".join(lines) or "- nothing yet"


def proposal_payload(text: str, *, model: str, language: str, extracted: ThingModel
                     ) -> dict[str, Any]:
    """The OpenAI chat-completion request that asks for a proposal."""
    hint = "Chinese" if language == "zh" else "English"
    user = (f"Device description ({hint}):\n{text[:MAX_PROMPT_TEXT]}\n\n"
            f"Already read from its tables and sentences (keep these; add what is missing, "
            f"with names and descriptions):\n{_known(extracted)}")
    return {"model": model, "temperature": 0, "max_tokens": MAX_TOKENS,
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": user}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "thing_model", "schema": PROPOSAL_SCHEMA, "strict": True}}}


def read_proposal(response: Any) -> tuple[dict[str, Any] | None, bool, list[str]]:
    """(proposal or None, valid against the proposal schema, notes) from a chat response."""
    notes: list[str] = []
    try:
        choice = response["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None, False, ["model answer has no message content; extraction only"]
    if choice.get("finish_reason") == "length":
        notes.append("model answer was cut off at max_tokens")
    if not isinstance(content, str):
        return None, False, [*notes, "model answer is empty; extraction only"]
    text = re.sub(r"^\s*```(?:json)?|```\s*$", "", content.strip())
    proposal: Any = None
    for candidate in (text, text[text.find("{"):text.rfind("}") + 1]):
        try:
            proposal = json.loads(candidate)
            break
        except ValueError:
            continue
    if not isinstance(proposal, dict):
        return None, False, [*notes, "model answer is not a JSON object; extraction only"]
    errors = list(Draft202012Validator(PROPOSAL_SCHEMA).iter_errors(proposal))
    if errors:
        notes.append(f"model proposal deviates from its schema in {len(errors)} place(s) "
                     f"(first: {errors[0].message[:120]}); usable parts kept")
    return proposal, not errors, notes
