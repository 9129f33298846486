"""Validate documents against the JSON Schemas in `schemas/` (draft 2020-12).

Each function returns every problem as `"<json path>: <message>"` (empty list = valid), so an
API can show them all at once. `validate_platform` also runs the checks JSON Schema cannot
express (min <= max, unique identifiers), through the pydantic model.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).parent / "schemas"
SCHEMA_FILES = {"platform": "platform.schema.json", "tsl": "tsl.schema.json",
                "wot": "wot-td.schema.json"}
MAX_ERRORS = 50


def load_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema for `kind` (platform, tsl or wot), e.g. to serve it to clients."""
    return json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))


@cache
def _validator(kind: str) -> Draft202012Validator:
    """Built lazily on first use (schema checked once), not at import time."""
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _path(error: ValidationError) -> str:
    parts = ["$"]
    for piece in error.absolute_path:
        parts.append(f"[{piece}]" if isinstance(piece, int) else f".{piece}")
    return "".join(parts)


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For if/then and anyOf failures the useful message is in the sub-errors."""
    if error.context:
        leaves = [leaf for sub in error.context for leaf in _leaf_errors(sub)]
        return leaves or [error]
    return [error]


def _errors(kind: str, doc: Any) -> list[str]:
    found = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.path)))
    messages: list[str] = []
    for error in found:
        for leaf in _leaf_errors(error) if error.validator in ("anyOf", "oneOf") else [error]:
            message = f"{_path(leaf)}: {leaf.message}"
            if message not in messages:
                messages.append(message)
    return messages[:MAX_ERRORS]


def validate_platform(doc: Any) -> list[str]:
    """Problems with a platform thing-model document (`maas.thing-model/1`)."""
    errors = _errors("platform", doc)
    if not errors:
        from maas.toolbox.thingmodel.schema import ThingModelError, parse_thing_model

        try:
            parse_thing_model(doc)
        except ThingModelError as exc:
            errors.append(f"$.{exc.message}" if not exc.message.startswith("$") else exc.message)
    return errors


def validate_tsl(doc: Any) -> list[str]:
    """Problems with an Alibaba IoT TSL document."""
    return _errors("tsl", doc)


def validate_wot(doc: Any) -> list[str]:
    """Problems with a W3C WoT Thing Description 1.1."""
    return _errors("wot", doc)
