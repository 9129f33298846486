"""The platform thing-model document ("maas.thing-model/1") as pydantic models.

The same shape is written by hand in `schemas/platform.schema.json` (for clients that do not
run Python); `tests/unit/test_thingmodel*.py` keep the two in step. Beyond what JSON Schema can
say, the models check what makes a document *usable*: min <= max, step > 0, enum keys are
integers, identifiers are unique within their list.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from maas.errors import InvalidRequest

SCHEMA_ID = "maas.thing-model/1"
IDENTIFIER = r"^[a-z][a-z0-9_]{0,63}$"
IDENTIFIER_RE = re.compile(IDENTIFIER)
NUMBER_TYPES = ("int", "float", "double")
DATA_TYPES = ("int", "float", "double", "text", "bool", "enum", "date", "struct", "array")
ARRAY_ITEM_TYPES = ("int", "float", "double", "text", "struct")  # what Alibaba TSL allows
MAX_NAME = 80
MAX_DESCRIPTION = 1000
MAX_TEXT_LENGTH = 10240
MAX_ARRAY_SIZE = 512
MAX_ITEMS = 512

Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


class ThingModelError(InvalidRequest):
    """A thing-model document is invalid; `param` is the JSON path of the first problem."""

    code = "invalid_thing_model"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class NumberSpecs(_Strict):
    min: float | None = None
    max: float | None = None
    step: float | None = None
    unit: str | None = Field(None, min_length=1, max_length=32)

    @model_validator(mode="after")
    def _sane(self) -> NumberSpecs:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({_num(self.min)}) is greater than max ({_num(self.max)})")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be > 0, got {_num(self.step)}")
        return self

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: Any) -> dict[str, Any]:
        return {k: _num(v) if isinstance(v, float) else v
                for k, v in handler(self).items() if v is not None}


class TextSpecs(_Strict):
    length: int = Field(255, ge=1, le=MAX_TEXT_LENGTH)


class BoolSpecs(_Strict):
    true: str = Field("On", min_length=1, max_length=MAX_NAME)
    false: str = Field("Off", min_length=1, max_length=MAX_NAME)


class EnumSpecs(_Strict):
    values: dict[str, str] = Field(min_length=1, max_length=MAX_ITEMS)

    @field_validator("values")
    @classmethod
    def _int_keys(cls, values: dict[str, str]) -> dict[str, str]:
        for key, label in values.items():
            if not re.fullmatch(r"-?(0|[1-9][0-9]{0,9})", key):
                raise ValueError(f"enum key {key!r} is not an integer written in decimal")
            if not label.strip() or len(label) > MAX_NAME:
                raise ValueError(f"enum label for {key!r} must be 1-{MAX_NAME} characters")
        return values


class DateSpecs(_Strict):
    pass


class NumberType(_Strict):
    type: Literal["int", "float", "double"]
    specs: NumberSpecs = Field(default_factory=NumberSpecs)

    @model_validator(mode="after")
    def _int_bounds(self) -> NumberType:
        if self.type == "int":
            for name in ("min", "max", "step"):
                value = getattr(self.specs, name)
                if value is not None and value != int(value):
                    raise ValueError(f"an int's {name} must be a whole number, got {value}")
        return self


class TextType(_Strict):
    type: Literal["text"]
    specs: TextSpecs = Field(default_factory=TextSpecs)


class BoolType(_Strict):
    type: Literal["bool"]
    specs: BoolSpecs = Field(default_factory=BoolSpecs)


class EnumType(_Strict):
    type: Literal["enum"]
    specs: EnumSpecs


class DateType(_Strict):
    type: Literal["date"]
    specs: DateSpecs = Field(default_factory=DateSpecs)


class StructSpecs(_Strict):
    fields: list[Param] = Field(min_length=1, max_length=MAX_ITEMS)

    @field_validator("fields")
    @classmethod
    def _unique(cls, fields: list[Param]) -> list[Param]:
        return _unique_identifiers(fields)


class StructType(_Strict):
    type: Literal["struct"]
    specs: StructSpecs


class ArraySpecs(_Strict):
    size: int = Field(ge=1, le=MAX_ARRAY_SIZE)
    item: DataType

    @field_validator("item")
    @classmethod
    def _item_type(cls, item: DataType) -> DataType:
        if item.type not in ARRAY_ITEM_TYPES:
            raise ValueError(f"array items must be one of {', '.join(ARRAY_ITEM_TYPES)} "
                             f"(as in Alibaba TSL), got {item.type!r}")
        return item


class ArrayType(_Strict):
    type: Literal["array"]
    specs: ArraySpecs


DataType = Annotated[NumberType | TextType | BoolType | EnumType | DateType | StructType
                     | ArrayType, Field(discriminator="type")]


class Param(_Strict):
    """An event output, a service input/output or a struct field."""

    identifier: Identifier
    name: str = Field(min_length=1, max_length=MAX_NAME)
    data_type: DataType


class Property(Param):
    description: str = Field("", max_length=MAX_DESCRIPTION)
    access: Literal["r", "rw"] = "r"


class Event(_Strict):
    identifier: Identifier
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    type: Literal["info", "alert", "error"] = "info"
    output: list[Param] = Field(default_factory=list, max_length=MAX_ITEMS)

    @field_validator("output")
    @classmethod
    def _unique(cls, params: list[Param]) -> list[Param]:
        return _unique_identifiers(params)


class Service(_Strict):
    identifier: Identifier
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    call_type: Literal["sync", "async"] = "async"
    input: list[Param] = Field(default_factory=list, max_length=MAX_ITEMS)
    output: list[Param] = Field(default_factory=list, max_length=MAX_ITEMS)

    @field_validator("input", "output")
    @classmethod
    def _unique(cls, params: list[Param]) -> list[Param]:
        return _unique_identifiers(params)


class ThingModel(_Strict):
    """A device's thing model; `model_dump(mode="json")` is the platform document."""

    schema_: Literal["maas.thing-model/1"] = Field(SCHEMA_ID, alias="schema")
    identifier: Identifier
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    properties: list[Property] = Field(default_factory=list, max_length=MAX_ITEMS)
    events: list[Event] = Field(default_factory=list, max_length=MAX_ITEMS)
    services: list[Service] = Field(default_factory=list, max_length=MAX_ITEMS)

    @field_validator("properties", "events", "services")
    @classmethod
    def _unique(cls, items: list[Any]) -> list[Any]:
        return _unique_identifiers(items)

    def find_property(self, identifier: str) -> Property | None:
        return next((p for p in self.properties if p.identifier == identifier), None)


def _unique_identifiers(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    for item in items:
        if item.identifier in seen:
            raise ValueError(f"identifier {item.identifier!r} is used twice")
        seen.add(item.identifier)
    return items


def _num(value: float) -> float | int:
    """400.0 -> 400 so documents and exports read as people write numbers."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def json_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location -> `properties[0].data_type.specs.max` (union tags removed)."""
    parts: list[str] = []
    previous: int | str | None = None
    for piece in loc:
        if previous in ("data_type", "item") and piece in DATA_TYPES:
            previous = piece
            continue  # the discriminated union's tag, not a key in the document
        if isinstance(piece, int):
            parts.append(f"[{piece}]")
        else:
            parts.append(("." if parts else "") + str(piece))
        previous = piece
    return "".join(parts) or "$"


def parse_thing_model(doc: Any) -> ThingModel:
    """Validate a platform document; `ThingModelError` names the path of the first problem."""
    if not isinstance(doc, dict):
        raise ThingModelError("a thing model must be a JSON object", param="$")
    try:
        return ThingModel.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        path = json_path(tuple(first["loc"]))
        message = first["msg"].removeprefix("Value error, ")
        more = exc.error_count() - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ThingModelError(f"{path}: {message}{suffix}", param=path) from None


StructSpecs.model_rebuild()
ArraySpecs.model_rebuild()
