"""Link register maps and thing models (the platform's device-model documents).

Register -> property: access w and rw become "rw"; bools (coils, discrete inputs, bool
registers) become bool; scaled values and floats become float with `step` = scale and min/max
from the raw type's range; unscaled integers become int with the type's range.

Property -> register (addresses assigned in document order from `start_address`): bool -> a
coil-like bool register (one register, non-zero = true); enum and int within 16 bits -> int16
or uint16 (uint16 when min >= 0); other int -> int32 (uint32 when min >= 0 and max > int32);
float/double -> float32 with step/unit kept as scale 1 (the device carries the float). Other
types (text, date, struct, array) have no register form and are skipped.
"""

from __future__ import annotations

from decimal import Decimal

from maas.toolbox.protocol import datatypes as dt
from maas.toolbox.protocol.errors import RegisterMapError, RowError
from maas.toolbox.protocol.registers import Register, RegisterMap


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def property_from_register(register: Register) -> dict:
    access = "r" if register.access == "r" else "rw"
    base = {"identifier": register.identifier, "name": register.name or register.identifier,
            "description": register.description, "access": access}
    if register.type == "bool" or register.table in dt.BIT_TABLES:
        return {**base, "data_type": {"type": "bool", "specs": {"true": "On", "false": "Off"}}}
    specs: dict = {}
    if register.type in dt.INTEGER_RANGES:
        low, high = dt.INTEGER_RANGES[register.type]
        ends = sorted((Decimal(low) * register.scale + register.offset,
                       Decimal(high) * register.scale + register.offset))
        specs = {"min": _number(ends[0]), "max": _number(ends[1])}
    if register.scaled:
        specs["step"] = _number(register.scale)
    if register.unit:
        specs["unit"] = register.unit
    kind = "float" if register.scaled or register.type.startswith("float") else "int"
    if register.type == "float64":
        kind = "double"
    return {**base, "data_type": {"type": kind, "specs": specs}}


def properties_from_register_map(register_map: RegisterMap) -> list[dict]:
    """Thing-model properties (platform shape) for every register, in map order."""
    return [property_from_register(r) for r in register_map.registers]


def _register_type(data_type: dict) -> str | None:
    kind = data_type.get("type")
    specs = data_type.get("specs") or {}
    if kind == "bool":
        return "bool"
    if kind in ("float", "double"):
        return "float32" if kind == "float" else "float64"
    if kind == "enum":
        keys = [int(k) for k in (specs.get("values") or {"0": ""})]
        return "uint16" if min(keys) >= 0 and max(keys) <= 65535 else "int16"
    if kind == "int":
        low, high = specs.get("min"), specs.get("max")
        low = -(2**31) if low is None else low
        high = 2**31 - 1 if high is None else high
        for name in ("uint16", "int16", "int32", "uint32"):
            lo, hi = dt.INTEGER_RANGES[name]
            if lo <= low and high <= hi:
                return name
        return "int64"
    return None


def register_map_from_thing_model(doc: dict, *, start_address: int = 0,
                                  table: str = "holding") -> RegisterMap:
    """Assign consecutive addresses to the numeric/bool/enum properties of a thing model."""
    if table not in ("holding", "input"):
        raise RegisterMapError([RowError(None, f'table must be holding or input, not "{table}"')])
    registers: list[Register] = []
    errors: list[RowError] = []
    address = start_address
    for number, prop in enumerate(doc.get("properties") or [], start=1):
        identifier = str(prop.get("identifier", ""))
        if not dt.IDENTIFIER.match(identifier):
            errors.append(RowError(number, f'property identifier "{identifier}" is invalid'))
            continue
        if any(r.identifier == identifier for r in registers):
            errors.append(RowError(number, f'duplicate property identifier "{identifier}"'))
            continue
        data_type = prop.get("data_type") or {}
        type_name = _register_type(data_type)
        if type_name is None:
            continue
        access = "rw" if prop.get("access") == "rw" and table == "holding" else "r"
        unit = str((data_type.get("specs") or {}).get("unit") or "")
        register = Register(row=number, address=address, table=table, identifier=identifier,
                            name=str(prop.get("name") or identifier), type=type_name,
                            unit=unit, access=access,
                            description=str(prop.get("description") or ""),
                            address_text=str(address))
        if register.end > 65536:
            errors.append(RowError(number, f'property "{identifier}" does not fit below '
                                           "register 65536"))
            break
        registers.append(register)
        address = register.end
    if errors:
        raise RegisterMapError(errors, source="thing model")
    if not registers:
        raise RegisterMapError([RowError(None, "the thing model has no numeric, bool or enum "
                                               "properties to map")], source="thing model")
    return RegisterMap(tuple(registers), name=str(doc.get("identifier") or ""))
