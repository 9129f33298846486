"""Export a thing model as Alibaba Cloud IoT TSL (Thing Specification Language) JSON.

TSL writes every spec value as a string ("min": "0"), names units twice (`unit` symbol and
Chinese `unitName`), spells bool specs as {"0": ..., "1": ...} and struct specs as a list, and
always carries the standard `post` event and `set`/`get` services; we follow that so the file
imports into Alibaba-compatible platforms unchanged.
"""

from __future__ import annotations

from typing import Any

from maas.toolbox.thingmodel.schema import (
    ArrayType,
    BoolType,
    DataType,
    EnumType,
    NumberType,
    Param,
    Property,
    StructType,
    TextType,
    ThingModel,
)
from maas.toolbox.thingmodel.units import UnitCatalogue

TSL_SCHEMA = "https://iot-tsl.oss-cn-shanghai.aliyuncs.com/schema.json"
TSL_VERSION = "1.0"


def tsl_number(value: float | int) -> str:
    """400.0 -> "400", 0.01 -> "0.01" (shortest round-trip form, no trailing .0)."""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def tsl_data_type(data_type: DataType, units: UnitCatalogue) -> dict[str, Any]:
    specs: Any
    if isinstance(data_type, NumberType):
        s = data_type.specs
        specs = {k: tsl_number(v) for k, v in (("min", s.min), ("max", s.max), ("step", s.step))
                 if v is not None}
        if s.unit:
            unit = units.normalise(s.unit)
            specs["unit"] = unit.tsl_unit if unit else s.unit
            specs["unitName"] = unit.name_zh if unit else s.unit
    elif isinstance(data_type, TextType):
        specs = {"length": str(data_type.specs.length)}
    elif isinstance(data_type, BoolType):
        specs = {"0": data_type.specs.false, "1": data_type.specs.true}
    elif isinstance(data_type, EnumType):
        specs = dict(sorted(data_type.specs.values.items(), key=lambda kv: int(kv[0])))
    elif isinstance(data_type, StructType):
        specs = [tsl_param(field, units) for field in data_type.specs.fields]
    elif isinstance(data_type, ArrayType):
        specs = {"size": str(data_type.specs.size),
                 "item": tsl_data_type(data_type.specs.item, units)}
    else:  # date
        specs = {}
    return {"type": data_type.type, "specs": specs}


def tsl_param(param: Param, units: UnitCatalogue) -> dict[str, Any]:
    return {"identifier": param.identifier, "name": param.name,
            "dataType": tsl_data_type(param.data_type, units)}


def _tsl_property(prop: Property, units: UnitCatalogue) -> dict[str, Any]:
    return {"identifier": prop.identifier, "name": prop.name, "accessMode": prop.access,
            "required": False, "desc": prop.description,
            "dataType": tsl_data_type(prop.data_type, units)}


def to_tsl(tm: ThingModel, *, product_key: str | None = None,
           units: UnitCatalogue | None = None) -> dict[str, Any]:
    """The TSL document for `tm`; `product_key` defaults to the thing model's identifier."""
    units = units or UnitCatalogue()
    params = [tsl_param(p, units) for p in tm.properties]
    writable = [tsl_param(p, units) for p in tm.properties if p.access == "rw"]
    events = [{"identifier": "post", "name": "post", "type": "info", "required": True,
               "desc": "属性上报", "method": "thing.event.property.post", "outputData": params}]
    for event in tm.events:
        events.append({"identifier": event.identifier, "name": event.name, "type": event.type,
                       "required": False, "desc": event.description,
                       "method": f"thing.event.{event.identifier}.post",
                       "outputData": [tsl_param(p, units) for p in event.output]})
    services = [
        {"identifier": "set", "name": "set", "required": True, "callType": "async",
         "desc": "属性设置", "method": "thing.service.property.set", "inputData": writable,
         "outputData": []},
        {"identifier": "get", "name": "get", "required": True, "callType": "async",
         "desc": "属性获取", "method": "thing.service.property.get",
         "inputData": [p.identifier for p in tm.properties], "outputData": params},
    ]
    for service in tm.services:
        services.append({"identifier": service.identifier, "name": service.name,
                         "required": False, "callType": service.call_type,
                         "desc": service.description,
                         "method": f"thing.service.{service.identifier}",
                         "inputData": [tsl_param(p, units) for p in service.input],
                         "outputData": [tsl_param(p, units) for p in service.output]})
    return {"schema": TSL_SCHEMA,
            "profile": {"version": TSL_VERSION, "productKey": product_key or tm.identifier},
            "properties": [_tsl_property(p, units) for p in tm.properties],
            "events": events, "services": services}
