"""Parameter tables -> draft properties and events, by zh/en header synonyms.

A datasheet's parameter table is the most exact source a thing model can have: the numbers
are written by the manufacturer in columns with names. We find the columns by their header
(参数/名称/Parameter, 范围/Range/Min/Max, 单位/Unit, 读写/Access, 类型/Type, 说明/Description,
地址/Address...), then read each row with the same value readers as the prose extractor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from maas.toolbox.thingmodel.units import UnitCatalogue
from maas.toolbox.thingmodel.values import (
    clean_text,
    find_enum,
    find_ranges,
    find_step,
    find_unit,
    infer_number_type,
    is_rw,
    text_length,
    to_number,
)

#: Column roles, most specific first: a header cell takes the first role one of whose
#: synonyms it equals (or, failing that, contains).
ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("identifier", ("标识符", "标识", "identifier", "id", "tag", "key", "变量名", "symbol")),
    ("address", ("地址", "寄存器", "address", "addr", "register", "modbus")),
    ("unit", ("单位", "unit", "units", "uom")),
    ("min", ("最小值", "最小", "下限", "min", "minimum", "low")),
    ("max", ("最大值", "最大", "上限", "max", "maximum", "high")),
    ("step", ("分辨率", "步长", "最小单位", "resolution", "step", "increment")),
    ("range", ("取值范围", "设定范围", "测量范围", "范围", "量程", "值域", "range", "span",
               "measuring range", "values", "value range", "limits")),
    ("access", ("读写", "读/写", "访问", "权限", "access", "r/w", "rw", "read/write", "mode")),
    ("type", ("数据类型", "类型", "格式", "data type", "datatype", "type", "format")),
    ("default", ("默认值", "默认", "出厂值", "缺省", "default", "factory setting")),
    ("level", ("级别", "等级", "严重", "level", "severity", "class")),
    ("description", ("说明", "描述", "备注", "含义", "description", "remark", "remarks",
                     "notes", "note", "comment", "meaning", "details")),
    ("event", ("报警", "告警", "事件", "故障", "alarm", "alert", "event", "fault")),
    ("name", ("参数名称", "参数", "名称", "项目", "测量项", "属性", "parameter", "name", "item",
              "quantity", "property", "signal", "variable", "measurement")),
)
TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("double", "double"), ("float64", "double"), ("float", "float"), ("real", "float"),
    ("浮点", "float"), ("bool", "bool"), ("布尔", "bool"), ("bit", "bool"), ("coil", "bool"),
    ("开关量", "bool"), ("enum", "enum"), ("枚举", "enum"), ("string", "text"),
    ("text", "text"), ("ascii", "text"), ("字符串", "text"), ("文本", "text"), ("date", "date"),
    ("日期", "date"), ("时间戳", "date"), ("timestamp", "date"), ("int", "int"), ("整", "int"),
    ("word", "int"), ("数值", "float"),
)
EVENT_LEVELS = (("error", ("error", "fault", "故障", "严重", "critical", "trip", "跳闸")),
                ("alert", ("alert", "alarm", "warning", "告警", "报警", "预警", "警告")),
                ("info", ("info", "notice", "提示", "通知", "信息")))
VALUE_ROLES = {"range", "min", "max", "unit", "type", "access", "step"}


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    heading: str = ""
    roles: dict[str, int] = field(default_factory=dict)


def split_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def column_roles(header: list[str]) -> dict[str, int]:
    """role -> column index, from the header cells."""
    roles: dict[str, int] = {}
    cells = [re.sub(r"\s*[(（\[【].*?[)）\]】]\s*", " ", clean_text(c)).strip().casefold()
             for c in header]
    for exact in (True, False):
        for index, cell in enumerate(cells):
            if index in roles.values() or not cell:
                continue
            for role, synonyms in ROLES:
                if role in roles:
                    continue
                hit = any(cell == s for s in synonyms) if exact else any(
                    (s in cell) if not s.isascii() else re.search(rf"\b{re.escape(s)}\b", cell)
                    for s in synonyms)
                if hit:
                    roles[role] = index
                    break
    return roles


def _cell(row: list[str], roles: dict[str, int], role: str) -> str:
    index = roles.get(role)
    return row[index].strip() if index is not None and index < len(row) else ""


def _data_type_word(text: str) -> str | None:
    low = text.casefold()
    return next((kind for word, kind in TYPE_WORDS if word in low), None)


def _header_unit(table: Table, role: str, units: UnitCatalogue):  # noqa: ANN202 - Unit|None
    """A unit written in brackets in a header ("Range (°C)"); the bare word is the column's
    name ("Min" is not minutes)."""
    index = table.roles.get(role)
    if index is None:
        return None
    inner = re.findall(r"[(\[（【]\s*([^()\[\]（）【】]{1,12})\s*[)\]）】]", table.header[index])
    return next((u for u in (units.normalise(x) for x in inner) if u is not None), None)


def row_property(table: Table, row: list[str], units: UnitCatalogue, notes: list[str]
                 ) -> dict[str, Any] | None:
    """One table row as a draft property, or None (with a note) when it names nothing."""
    roles = table.roles
    name = _cell(row, roles, "name")
    if not name or set(name) <= set("-—: "):
        return None
    desc = _cell(row, roles, "description")
    range_cell = _cell(row, roles, "range")
    ranges = find_ranges(range_cell, units) if range_cell else []
    low = to_number(_cell(row, roles, "min")) if "min" in roles else None
    high = to_number(_cell(row, roles, "max")) if "max" in roles else None
    unit_cell = _cell(row, roles, "unit").strip(" -—")
    unit = find_unit(unit_cell, units) if unit_cell else None
    if ranges:
        low, high = ranges[0].min, ranges[0].max
        unit = unit or ranges[0].unit
    unit = unit or (None if unit_cell else (
        _header_unit(table, "range", units) or _header_unit(table, "min", units)
        or _header_unit(table, "max", units) or find_unit(name, units)))
    step_cell = _cell(row, roles, "step")
    step = to_number(re.sub(r"[^\d.,+-]", " ", step_cell).split()[0]) if re.search(
        r"\d", step_cell) else find_step(desc)
    access_cell = _cell(row, roles, "access")
    access = "rw" if access_cell and (is_rw(access_cell) or re.fullmatch(
        r"w|写|只写", access_cell.strip(), re.I)) else "r"
    declared = _data_type_word(_cell(row, roles, "type"))
    enum = find_enum(range_cell) or find_enum(desc)
    draft: dict[str, Any] = {"name": _display_name(name), "access": access, "description": ""}
    ident = _cell(row, roles, "identifier")
    if ident.isascii() and ident:
        draft["identifier"] = ident
    address = _cell(row, roles, "address")
    draft["description"] = "; ".join(x for x in (
        desc if not enum else "", f"Address {address}" if address else "") if x)
    if declared == "bool" or (declared is None and enum and set(enum) == {"0", "1"}
                              and low is None and "bool" in desc.casefold()):
        labels = enum or {}
        draft["data_type"] = {"type": "bool", "specs": {"true": labels.get("1", "On"),
                                                        "false": labels.get("0", "Off")}}
    elif enum and declared in (None, "enum", "int"):
        draft["data_type"] = {"type": "enum", "specs": {"values": enum}}
    elif declared in ("text", "date"):
        length = text_length(desc + " " + range_cell) or 255
        specs = {"length": length} if declared == "text" else {}
        draft["data_type"] = {"type": declared, "specs": specs}
    elif low is None and high is None and unit is None and declared is None and not step:
        notes.append(f"table row {name!r}: no range, unit or type; skipped")
        return None
    else:
        kind = declared if declared in ("int", "float", "double") else infer_number_type(
            low, high, step, unit)
        specs = {k: v for k, v in (("min", low), ("max", high), ("step", step)) if v is not None}
        if unit is not None or unit_cell:
            specs["unit"] = unit.symbol if unit is not None else unit_cell  # normaliser notes it
        draft["data_type"] = {"type": kind, "specs": specs}
    return draft


def row_event(table: Table, row: list[str]) -> dict[str, Any] | None:
    name = _cell(row, table.roles, "event") or _cell(row, table.roles, "name")
    if not name:
        return None
    level = (_cell(row, table.roles, "level") + " " + name).casefold()
    kind = next((k for k, words in EVENT_LEVELS if any(w in level for w in words)), "info")
    code = _cell(row, table.roles, "identifier") or _cell(row, table.roles, "address")
    desc = "; ".join(x for x in (_cell(row, table.roles, "description"),
                                 f"Code {code}" if code else "") if x)
    return {"name": _display_name(name), "type": kind, "description": desc, "output": []}


def _display_name(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()[:80]


def read_table(table: Table, units: UnitCatalogue, notes: list[str]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(properties, events) of one table; a table that is neither gives nothing and a note."""
    table.roles = roles = column_roles(table.header)
    label = f"table '{' | '.join(table.header)[:60]}'"
    if "event" in roles and "name" not in roles:
        events = [e for e in (row_event(table, r) for r in table.rows) if e]
        notes.append(f"{label}: read {len(events)} events")
        return [], events
    if "name" not in roles and VALUE_ROLES & set(roles):
        free = [i for i in range(len(table.header)) if i not in roles.values()]
        if free:
            roles["name"] = free[0]
    if "name" not in roles or not VALUE_ROLES & set(roles):
        notes.append(f"{label}: not a parameter table (no name and value columns); skipped")
        return [], []
    props = []
    for row in table.rows:
        prop = row_property(table, row, units, notes)
        if prop:
            props.append(prop)
    notes.append(f"{label}: read {len(props)} of {len(table.rows)} rows as properties")
    return props, []
