"""Reading values out of datasheet cells and sentences: ranges, steps, units, enums, access.

Shared by the table and prose extractors, so "0~400 Hz" means the same in a table cell and in
a sentence. Every reader returns None rather than guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from maas.toolbox.thingmodel.units import Unit, UnitCatalogue

NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
SEP = r"(?:~|～|〜|–|—|\.\.\.|\.\.|…|\bto\b|至|到|-)"
RANGE = re.compile(rf"(?<![\w.])(?P<min>{NUM})\s*(?P<u1>[^\s\d~～〜–—,，;；。()（）-]{{0,6}}?)\s*"
                   rf"{SEP}\s*(?P<max>{NUM})(?![\w.]*\d)")
PLUS_MINUS = re.compile(rf"(?:±|\+/-|\+-)\s*(?P<max>{NUM})")
STEP = re.compile(rf"(?:分辨率|步长|最小单位|resolution|step(?:\s+size)?|increments?|in steps of)"
                  rf"\s*(?:of|is|为|是|:|：|=)?\s*(?P<a>{NUM})|(?P<b>{NUM})\s*\S{{0,6}}\s*"
                  r"(?:resolution|steps?|increments?)", re.I)
ENUM_PAIR = re.compile(r"(?<![\w.])(?P<key>-?\d{1,6})\s*(?:=|:|：|＝|->|→)\s*"
                       r"(?P<label>[^,，;；、|/=:：\n]+?)\s*(?=$|[,，;；、|/)）]|\s+-?\d{1,6}\s*[=:：])")
RW_WORDS = re.compile(r"读写|可读写|可写|可设定|可设置|可调|设定范围|read\s*/\s*write|read-write|"
                      r"writable|configurable|adjustable|settable|\brw\b|\br/w\b", re.I)
TEXT_LENGTH = re.compile(r"(?P<n>\d{1,5})\s*(?:characters|chars|字符|个字符|字节|bytes)", re.I)
UNIT_TOKEN = re.compile(r"^\s*(?P<tok>[^\s\d,，;；。、()（）\[\]【】|]+(?:\s[CF]\b)?)")


@dataclass
class Range:
    min: float
    max: float
    unit: Unit | None
    start: int
    end: int


def clean_text(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("−", "-").replace("﹣", "-")


def to_number(text: str) -> float | None:
    try:
        return float(clean_text(text).replace(",", "").strip())
    except ValueError:
        return None


def unit_at(text: str, units: UnitCatalogue) -> tuple[Unit | None, int]:
    """The unit at the start of `text` (longest known prefix of its first token), and its length."""
    match = UNIT_TOKEN.match(text)
    if not match:
        return None, 0
    token = match.group("tok")
    lead = len(text) - len(text.lstrip())
    for size in range(len(token), 0, -1):
        unit = units.normalise(token[:size])
        if unit is not None:
            return unit, lead + size
    return None, 0


def find_ranges(text: str, units: UnitCatalogue) -> list[Range]:
    """Every "a ~ b unit" (or "±a unit") in `text`, in order."""
    text = clean_text(text)
    found: list[Range] = []
    for m in RANGE.finditer(text):
        low, high = to_number(m.group("min")), to_number(m.group("max"))
        if low is None or high is None:
            continue
        unit, size = unit_at(text[m.end():], units)
        if unit is None and m.group("u1"):
            unit = units.normalise(m.group("u1"))
        if m.group(0).count("-") and not re.search(r"[~～〜–—…]|\.\.|to|至|到", m.group(0)) \
                and _looks_like_date_or_code(m.group(0)):
            continue
        found.append(Range(low, high, unit, m.start(), m.end() + size))
    if not found:
        for m in PLUS_MINUS.finditer(text):
            value = to_number(m.group("max"))
            if value is None:
                continue
            unit, size = unit_at(text[m.end():], units)
            found.append(Range(-value, value, unit, m.start(), m.end() + size))
    return found


def _looks_like_date_or_code(text: str) -> bool:
    """"2024-05-01", "GB/T 17626-2016": a hyphen between numbers that is not a range."""
    return bool(re.fullmatch(r"\d{4}-\d{1,2}(-\d{1,2})?|\d{4,5}-\d{4}", text.strip()))


def find_step(text: str) -> float | None:
    m = STEP.search(clean_text(text))
    if not m:
        return None
    value = to_number(m.group("a") or m.group("b"))
    return value if value and value > 0 else None


def find_enum(text: str) -> dict[str, str] | None:
    """"0=停止,1=运行" / "0: Stop; 1: Run" -> {"0": "停止", "1": "运行"} (two pairs or more)."""
    pairs = {}
    for m in ENUM_PAIR.finditer(clean_text(text)):
        label = m.group("label").strip(" .。'\"“”")
        if label and not re.fullmatch(r"[-+]?\d+(\.\d+)?", label):
            pairs.setdefault(str(int(m.group("key"))), label)
    return pairs if len(pairs) >= 2 else None


def find_unit(text: str, units: UnitCatalogue) -> Unit | None:
    """A unit named alone ("Hz") or in brackets ("频率 (Hz)", "Voltage [V]")."""
    text = clean_text(text).strip()
    unit = units.normalise(text)
    if unit is not None:
        return unit
    for inner in re.findall(r"[(\[（【]\s*([^()\[\]（）【】]{1,12})\s*[)\]）】]", text):
        unit = units.normalise(inner)
        if unit is not None:
            return unit
    return None


def is_rw(text: str) -> bool:
    return bool(RW_WORDS.search(clean_text(text)))


def infer_number_type(low: float | None, high: float | None, step: float | None,
                      unit: Unit | None) -> str:
    """int only when the figures are whole and the quantity is counted (time, rpm, %, none);
    a voltage written "0~600" is still a measured, fractional quantity."""
    figures = [v for v in (low, high, step) if v is not None]
    if any(v != int(v) for v in figures):
        return "float"
    if step is not None:
        return "int"
    counted = unit is None or unit.quantity in ("time", "rotational speed", "ratio")
    return "int" if counted else "float"


def text_length(text: str) -> int | None:
    m = TEXT_LENGTH.search(text)
    return int(m.group("n")) if m else None
