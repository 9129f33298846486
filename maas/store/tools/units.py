"""Unit conversion with pint (the field's unit library), including the units industry
documents use (bar, psi, kgf/cm², rpm, hp, °C/°F, L/min, Nm, kWh) and Chinese spellings
of the common ones."""

from __future__ import annotations

import re
import threading
from typing import Any

import pint

from maas.store.tools import ToolContext, ToolError, ToolResult

#: Chinese unit words and symbols people type, mapped to pint's names.
ALIASES = {
    "千瓦": "kW", "瓦": "W", "马力": "hp", "伏": "V", "安": "A", "兆帕": "MPa",
    "千帕": "kPa", "帕": "Pa", "巴": "bar", "摄氏度": "degC", "华氏度": "degF",
    "℃": "degC", "°C": "degC", "°F": "degF", "℉": "degF", "毫米": "mm", "厘米": "cm",
    "米": "m", "千米": "km", "公里": "km", "英寸": "inch", "英尺": "ft", "千克": "kg",
    "公斤": "kg", "克": "g", "吨": "t", "磅": "lb", "升": "L", "毫升": "mL",
    "立方米": "m**3", "转每分": "rpm", "转/分": "rpm", "牛米": "N*m", "千瓦时": "kWh",
    "度电": "kWh", "小时": "hour", "分钟": "minute", "秒": "second", "kgf/cm2": "kgf/cm**2",
    "kgf/cm²": "kgf/cm**2", "m³": "m**3", "m²": "m**2", "㎡": "m**2", "rpm": "rpm",
    "r/min": "rpm", "Nm": "N*m", "N·m": "N*m",
}
QUERY = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*(.+?)\s+"
                   r"(?:to|in|->|换算成|转为|为)\s+(.+?)\s*$")
MAX_UNIT = 40
ROTATIONAL = {"rpm", "rps", "revolution/minute", "revolution/second"}
CYCLES = {"Hz": "revolution/second", "kHz": "kilorevolution/second"}


class _Registry:
    """pint's registry takes ~0.3 s to build: made once, on first use, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._registry: pint.UnitRegistry | None = None

    def get(self) -> pint.UnitRegistry:
        with self._lock:
            if self._registry is None:
                self._registry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
            return self._registry


def _unit(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_UNIT:
        raise ToolError(f"a unit must have 1 to {MAX_UNIT} characters")
    return ALIASES.get(text, text)


def _cycles(source: str, target: str) -> tuple[str, str]:
    """pint reads Hz as 1/s and rpm as 2*pi rad/min, so 3000 rpm "is" 314 Hz; on a shaft
    nameplate it is 50 Hz. Between a rotational speed and Hz, count Hz as turns/second."""
    if source in ROTATIONAL and target in CYCLES:
        target = CYCLES[target]
    elif target in ROTATIONAL and source in CYCLES:
        source = CYCLES[source]
    return source, target


def convert(registry: pint.UnitRegistry, value: float, source: str, target: str
            ) -> tuple[float, str, str]:
    try:
        source_unit, target_unit = _cycles(_unit(source), _unit(target))
        quantity = registry.Quantity(value, source_unit)
        result = quantity.to(target_unit)
    except pint.DimensionalityError as exc:
        raise ToolError(f"cannot convert {source} to {target}: they measure different "
                        "things") from exc
    except (pint.UndefinedUnitError, AttributeError, TypeError, ValueError,
            AssertionError) as exc:
        raise ToolError(f"unknown unit in {source!r} or {target!r}") from exc
    shown = (source if source_unit != _unit(source) else f"{quantity.units:~P}",
             target if target_unit != _unit(target) else f"{result.units:~P}")
    return float(result.magnitude), *shown


class UnitConverter:
    name = "unit_convert"
    description = ("Convert a value between units, e.g. value 7.5, from 'kW', to 'hp'; "
                   "pressure (MPa, bar, psi, kgf/cm2), temperature (degC, degF), flow (L/min, "
                   "m**3/h), torque (N*m), speed (rpm), energy (kWh, J), length, mass.")
    parameters = {"type": "object", "additionalProperties": False,
                  "required": ["value", "from_unit", "to_unit"],
                  "properties": {"value": {"type": "number"},
                                 "from_unit": {"type": "string", "maxLength": MAX_UNIT},
                                 "to_unit": {"type": "string", "maxLength": MAX_UNIT}}}

    def __init__(self) -> None:
        self.registry = _Registry()

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        value, source, target = self._arguments(arguments)
        result, source_symbol, target_symbol = convert(self.registry.get(), value, source,
                                                       target)
        text = f"{value:g} {source_symbol} = {result:.6g} {target_symbol}"
        return ToolResult(text, {"value": result, "unit": target_symbol})

    @staticmethod
    def _arguments(arguments: dict[str, Any]) -> tuple[float, str, str]:
        """Structured arguments, or one string like '7.5 kW to hp' (small models write
        that more reliably than three fields)."""
        if "query" in arguments and isinstance(arguments["query"], str):
            match = QUERY.match(arguments["query"])
            if not match:
                raise ToolError("write the conversion as '<number> <unit> to <unit>'")
            return float(match.group(1)), match.group(2), match.group(3)
        try:
            value = float(arguments["value"])
            return value, str(arguments["from_unit"]), str(arguments["to_unit"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ToolError("give value (a number), from_unit and to_unit") from exc
