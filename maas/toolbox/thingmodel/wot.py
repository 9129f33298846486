"""Export a thing model as a W3C WoT Thing Description 1.1 (JSON-LD).

The platform model maps onto TD affordances: properties -> `properties` (DataSchema with
readOnly for access "r"), events -> `events` (`data` an object of the output params), services ->
`actions` (`input`/`output`, `synchronous`). Units become QUDT IRIs, the vocabulary TDs use,
where the catalogue knows one. Forms carry relative hrefs (`properties/<id>`), since the
protocol binding is the deployer's; TD 1.1 requires at least one form per affordance.
"""

from __future__ import annotations

import re
from typing import Any

from maas.toolbox.thingmodel.schema import (
    ArrayType,
    BoolType,
    DataType,
    DateType,
    EnumType,
    NumberType,
    Param,
    StructType,
    TextType,
    ThingModel,
)
from maas.toolbox.thingmodel.units import UnitCatalogue

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
THING_ID = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def wot_schema(data_type: DataType, units: UnitCatalogue) -> dict[str, Any]:
    """A platform data type as a TD DataSchema."""
    if isinstance(data_type, NumberType):
        s = data_type.specs
        out: dict[str, Any] = {"type": "integer" if data_type.type == "int" else "number"}
        if s.min is not None:
            out["minimum"] = _number(s.min)
        if s.max is not None:
            out["maximum"] = _number(s.max)
        if s.step is not None:
            out["multipleOf"] = _number(s.step)
        if s.unit:
            unit = units.normalise(s.unit)
            out["unit"] = (unit.qudt_iri or unit.symbol) if unit else s.unit
        return out
    if isinstance(data_type, TextType):
        return {"type": "string", "maxLength": data_type.specs.length}
    if isinstance(data_type, BoolType):
        return {"type": "boolean", "oneOf": [
            {"const": True, "title": data_type.specs.true},
            {"const": False, "title": data_type.specs.false}]}
    if isinstance(data_type, EnumType):
        keys = sorted(data_type.specs.values, key=int)
        return {"type": "integer", "enum": [int(k) for k in keys],
                "oneOf": [{"const": int(k), "title": data_type.specs.values[k]} for k in keys]}
    if isinstance(data_type, DateType):
        return {"type": "integer", "minimum": 0, "unit": units_iri(units, "ms"),
                "description": "UTC time in milliseconds since 1970-01-01T00:00:00Z"}
    if isinstance(data_type, StructType):
        return _object(data_type.specs.fields, units)
    if isinstance(data_type, ArrayType):
        return {"type": "array", "maxItems": data_type.specs.size,
                "items": wot_schema(data_type.specs.item, units)}
    raise TypeError(f"unknown data type {data_type!r}")  # pragma: no cover - union is closed


def units_iri(units: UnitCatalogue, symbol: str) -> str:
    unit = units.get(symbol)
    return (unit.qudt_iri or symbol) if unit else symbol


def _object(params: list[Param], units: UnitCatalogue) -> dict[str, Any]:
    return {"type": "object",
            "properties": {p.identifier: {"title": p.name, **wot_schema(p.data_type, units)}
                           for p in params},
            "required": [p.identifier for p in params]}


def _described(title: str, description: str) -> dict[str, Any]:
    return {"title": title, **({"description": description} if description else {})}


def to_wot(tm: ThingModel, *, thing_id: str | None = None,
           units: UnitCatalogue | None = None) -> dict[str, Any]:
    """The TD for `tm`; `thing_id` (a URI) defaults to `urn:maas:thing:<identifier>`."""
    units = units or UnitCatalogue()
    if thing_id is not None and not THING_ID.match(thing_id):
        raise ValueError(f"thing_id {thing_id!r} is not an absolute URI (e.g. urn:dev:ops:1)")
    language = "zh" if CJK.search(tm.name) else "en"
    properties: dict[str, Any] = {}
    for p in tm.properties:
        affordance = {**_described(p.name, p.description), **wot_schema(p.data_type, units)}
        affordance["readOnly"] = p.access == "r"
        affordance["writeOnly"] = False
        affordance["observable"] = True
        ops = ["readproperty", "observeproperty", "unobserveproperty"]
        if p.access == "rw":
            ops.insert(1, "writeproperty")
        affordance["forms"] = [{"href": f"properties/{p.identifier}", "op": ops}]
        properties[p.identifier] = affordance
    events = {}
    for e in tm.events:
        affordance = {**_described(e.name, e.description), "@type": f"maas:{e.type}"}
        if e.output:
            affordance["data"] = _object(e.output, units)
        affordance["forms"] = [{"href": f"events/{e.identifier}",
                                "op": ["subscribeevent", "unsubscribeevent"]}]
        events[e.identifier] = affordance
    actions = {}
    for s in tm.services:
        affordance = _described(s.name, s.description)
        if s.input:
            affordance["input"] = _object(s.input, units)
        if s.output:
            affordance["output"] = _object(s.output, units)
        affordance["synchronous"] = s.call_type == "sync"
        affordance["forms"] = [{"href": f"actions/{s.identifier}", "op": "invokeaction"}]
        actions[s.identifier] = affordance
    td: dict[str, Any] = {
        "@context": [TD_CONTEXT, {"@language": language,
                                  "maas": "https://maas.local/ns/thing-model#"}],
        "@type": "Thing",
        "id": thing_id or f"urn:maas:thing:{tm.identifier}",
        **_described(tm.name, tm.description),
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": ["nosec_sc"],
        "properties": properties, "actions": actions, "events": events,
    }
    return td
