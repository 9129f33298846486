"""The unit catalogue: one canonical symbol per unit, with the spellings people write.

Datasheets write one unit a dozen ways ("℃", "摄氏度", "degC", "deg C"); a thing model must
carry exactly one, or two versions of the same device diff on a typo and dashboards cannot
aggregate. Each unit also knows its Alibaba TSL symbol/name (`unit`/`unitName` in TSL specs)
and its QUDT IRI, which W3C WoT Thing Descriptions use for `unit`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

QUDT = "http://qudt.org/vocab/unit/"


@dataclass(frozen=True)
class Unit:
    """One catalogue entry; `symbol` is what the platform document stores."""

    symbol: str
    name_en: str
    name_zh: str
    quantity: str
    qudt: str | None = None  # local name under QUDT, e.g. "DEG_C"
    tsl_symbol: str | None = None  # when Alibaba writes it differently from `symbol`
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tsl_unit(self) -> str:
        return self.tsl_symbol or self.symbol

    @property
    def qudt_iri(self) -> str | None:
        return QUDT + self.qudt if self.qudt else None

    def as_dict(self) -> dict[str, object]:
        return {"symbol": self.symbol, "name_en": self.name_en, "name_zh": self.name_zh,
                "quantity": self.quantity, "tsl_unit": self.tsl_unit,
                "tsl_unit_name": self.name_zh, "qudt": self.qudt_iri,
                "aliases": list(self.aliases)}


U = Unit
#: The catalogue. Order matters only for listing; lookup is by normalised spelling.
UNITS: tuple[Unit, ...] = (
    U("°C", "degree Celsius", "摄氏度", "temperature", "DEG_C",
      aliases=("℃", "摄氏度", "degC", "deg C", "deg. C", "C", "oC", "celsius", "degree celsius",
               "degrees celsius", "度C")),
    U("°F", "degree Fahrenheit", "华氏度", "temperature", "DEG_F",
      aliases=("℉", "degF", "deg F", "华氏度", "fahrenheit")),
    U("K", "kelvin", "开尔文", "temperature", "K", aliases=("kelvin", "开尔文")),
    U("%", "percent", "百分比", "ratio", "PERCENT", aliases=("percent", "pct", "百分比", "％")),
    U("%RH", "percent relative humidity", "相对湿度", "humidity", "PERCENT_RH",
      aliases=("% RH", "%rh", "RH", "RH%", "%R.H.", "相对湿度", "％RH")),
    U("Hz", "hertz", "赫兹", "frequency", "HZ", aliases=("hz", "赫兹", "赫")),
    U("kHz", "kilohertz", "千赫兹", "frequency", "KiloHZ", aliases=("khz", "千赫兹", "千赫")),
    U("V", "volt", "伏特", "voltage", "V", aliases=("volt", "volts", "伏", "伏特", "VAC", "VDC")),
    U("mV", "millivolt", "毫伏", "voltage", "MilliV", aliases=("毫伏",)),
    U("kV", "kilovolt", "千伏", "voltage", "KiloV", aliases=("千伏",)),
    U("A", "ampere", "安培", "current", "A", aliases=("amp", "amps", "ampere", "安", "安培")),
    U("mA", "milliampere", "毫安", "current", "MilliA", aliases=("毫安",)),
    U("W", "watt", "瓦特", "power", "W", aliases=("watt", "watts", "瓦", "瓦特")),
    U("kW", "kilowatt", "千瓦", "power", "KiloW", aliases=("kw", "千瓦", "kilowatt")),
    U("kVA", "kilovolt-ampere", "千伏安", "apparent power", "KiloV-A",
      aliases=("kva", "kV·A", "kV.A", "千伏安")),
    U("kvar", "kilovar", "千乏", "reactive power", "KiloV-A_Reactive",
      aliases=("kVar", "kVAr", "kVAR", "千乏")),
    U("kWh", "kilowatt hour", "千瓦时", "energy", "KiloW-HR", tsl_symbol="kW·h",
      aliases=("kW·h", "kW.h", "kW h", "kwh", "千瓦时", "千瓦·时", "度电")),
    U("kvarh", "kilovar hour", "千乏时", "reactive energy", "KiloV-A_Reactive-HR",
      aliases=("kVarh", "kvar·h", "kVArh", "千乏时", "千乏·时")),
    U("Ω", "ohm", "欧姆", "resistance", "OHM", aliases=("ohm", "ohms", "欧", "欧姆", "Ω")),
    U("MΩ", "megaohm", "兆欧", "resistance", "MegaOHM", aliases=("Mohm", "MOhm", "兆欧")),
    U("r/min", "revolutions per minute", "转每分钟", "rotational speed", "REV-PER-MIN",
      aliases=("rpm", "RPM", "r/min", "转/分", "转/分钟", "转每分", "转每分钟", "rev/min",
               "min-1", "min^-1", "1/min")),
    U("N·m", "newton metre", "牛·米", "torque", "N-M",
      aliases=("Nm", "N.m", "N*m", "N m", "牛米", "牛·米", "牛顿米")),
    U("N", "newton", "牛顿", "force", "N", aliases=("newton", "牛", "牛顿")),
    U("Pa", "pascal", "帕斯卡", "pressure", "PA", aliases=("pa", "帕", "帕斯卡")),
    U("kPa", "kilopascal", "千帕", "pressure", "KiloPA", aliases=("kpa", "千帕")),
    U("MPa", "megapascal", "兆帕", "pressure", "MegaPA", aliases=("mpa", "兆帕")),
    U("bar", "bar", "巴", "pressure", "BAR", aliases=("Bar", "巴")),
    U("m", "metre", "米", "length", "M", aliases=("metre", "meter", "米")),
    U("mm", "millimetre", "毫米", "length", "MilliM", aliases=("millimetre", "millimeter", "毫米")),
    U("μm", "micrometre", "微米", "length", "MicroM",
      aliases=("um", "µm", "micron", "microns", "微米")),
    U("m³", "cubic metre", "立方米", "volume", "M3", aliases=("m3", "m^3", "立方米")),
    U("L", "litre", "升", "volume", "L", aliases=("l", "litre", "liter", "升")),
    U("m/s", "metre per second", "米每秒", "velocity", "M-PER-SEC", aliases=("米/秒", "米每秒")),
    U("mm/s", "millimetre per second", "毫米每秒", "velocity", "MilliM-PER-SEC",
      aliases=("毫米/秒", "毫米每秒")),
    U("m/s²", "metre per second squared", "米每二次方秒", "acceleration", "M-PER-SEC2",
      aliases=("m/s2", "m/s^2", "米/秒²")),
    U("g", "standard gravity", "重力加速度", "acceleration", "G", aliases=("gn",)),
    U("m³/h", "cubic metre per hour", "立方米每小时", "flow", "M3-PER-HR",
      aliases=("m3/h", "m^3/h", "立方米/小时", "方/小时")),
    U("L/min", "litre per minute", "升每分钟", "flow", "L-PER-MIN",
      aliases=("l/min", "lpm", "LPM", "升/分", "升/分钟")),
    U("s", "second", "秒", "time", "SEC", aliases=("sec", "secs", "second", "seconds", "秒")),
    U("ms", "millisecond", "毫秒", "time", "MilliSEC",
      aliases=("msec", "millisecond", "milliseconds", "毫秒")),
    U("min", "minute", "分钟", "time", "MIN", aliases=("mins", "minute", "minutes", "分钟")),
    U("h", "hour", "小时", "time", "HR", aliases=("hr", "hrs", "hour", "hours", "小时", "时")),
    U("d", "day", "天", "time", "DAY", aliases=("day", "days", "天", "日")),
    U("kg", "kilogram", "千克", "mass", "KiloGM", aliases=("千克", "公斤")),
    U("t", "tonne", "吨", "mass", "TONNE", aliases=("吨", "tonne", "tonnes")),
    U("°", "degree", "度(角)", "angle", "DEG", aliases=("deg", "degree", "degrees")),
    U("ppm", "parts per million", "百万分率", "ratio", "PPM", aliases=("PPM",)),
    U("lx", "lux", "勒克斯", "illuminance", "LUX", aliases=("lux", "勒克斯")),
    U("dB", "decibel", "分贝", "level", "DeciB", aliases=("db", "分贝")),
    U("dBm", "decibel-milliwatt", "分贝毫瓦", "signal level", "DeciB_M", aliases=("dbm",)),
    U("mg/m³", "milligram per cubic metre", "毫克每立方米", "concentration",
      "MilliGM-PER-M3", aliases=("mg/m3",)),
)
MAX_UNIT_TEXT = 40
_SPACES = re.compile(r"\s+")


def _key(text: str) -> str:
    """Spelling key: NFKC (full-width -> ASCII, µ -> μ), no spaces, case kept.

    Case matters for units (mA vs MA, Pa vs pa is harmless, but "m" vs "M"), so lookup tries
    the exact key first and a case-folded key only as a fallback.
    """
    text = unicodedata.normalize("NFKC", text).replace("µ", "μ")
    return _SPACES.sub("", text.strip())


class UnitCatalogue:
    """Lookup over `UNITS`: built per instance (cheap), so nothing is created at import."""

    def __init__(self, units: tuple[Unit, ...] = UNITS) -> None:
        self.units = units
        self._exact: dict[str, Unit] = {}
        self._folded: dict[str, Unit] = {}
        for unit in units:
            for spelling in (unit.symbol, unit.tsl_unit, unit.name_en, unit.name_zh,
                             *unit.aliases):
                key = _key(spelling)
                self._exact.setdefault(key, unit)
                self._folded.setdefault(key.casefold(), unit)

    def normalise(self, text: str | None) -> Unit | None:
        """The catalogue unit a spelling means, or None when it is not a known unit."""
        if not text or len(text) > MAX_UNIT_TEXT:
            return None
        key = _key(text.strip("()[]（）【】 "))
        if not key:
            return None
        return self._exact.get(key) or self._folded.get(key.casefold())

    def get(self, symbol: str) -> Unit | None:
        """The entry for a canonical symbol (exact)."""
        unit = self._exact.get(_key(symbol))
        return unit if unit is not None and unit.symbol == symbol else None

    def list(self) -> list[dict[str, object]]:
        """The whole catalogue as JSON-ready dicts (for an endpoint or docs)."""
        return [unit.as_dict() for unit in self.units]


def normalise_unit(text: str | None, catalogue: UnitCatalogue | None = None) -> Unit | None:
    """Convenience wrapper: `UnitCatalogue().normalise(text)`."""
    return (catalogue or UnitCatalogue()).normalise(text)


def list_units() -> list[dict[str, object]]:
    return UnitCatalogue().list()
