"""Modbus register maps: parse a user's table into validated `Register`s, or say precisely why not.

Address convention (documented for users in examples/register_maps/README.md):
- Modicon references pick the table and are 1-based: 00001-09999 coils, 10001-19999 discrete
  inputs, 30001-39999 input registers, 40001-49999 holding registers (and the 6-digit forms
  000001, 100001, 300001, 400001 up to x65536). `40001` is holding register 0 on the wire.
- Any other decimal number, and hex (`0x0010`), is the 0-based protocol address in the table
  named by the `table` column (default holding). A map that counts from 1 declares `base: 1`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from maas.toolbox.protocol import datatypes as dt
from maas.toolbox.protocol.errors import RegisterMapError, RowError
from maas.toolbox.protocol.tables import RawTable, read_table

COLUMNS = {  # canonical column -> header synonyms (compared after datatypes.squash)
    "address": ("address", "addr", "registeraddress", "register", "地址", "寄存器地址", "寄存器"),
    "name": ("name", "displayname", "名称", "名字", "参数名称", "参数"),
    "identifier": ("identifier", "id", "key", "tag", "标识符", "标识"),
    "type": ("type", "datatype", "dtype", "format", "数据类型", "类型"),
    "word_order": ("wordorder", "byteorder", "endianness", "endian", "order", "字序", "字节序"),
    "scale": ("scale", "factor", "multiplier", "gain", "ratio", "倍率", "系数", "比例"),
    "offset": ("offset", "偏移", "偏移量"),
    "unit": ("unit", "units", "单位"),
    "access": ("access", "rw", "r/w", "mode", "读写", "权限", "访问", "读写属性"),
    "table": ("table", "area", "region", "registertype", "区", "区域", "寄存器类型", "功能区"),
    "description": ("description", "desc", "comment", "remark", "描述", "说明", "备注"),
}
REQUIRED = ("address", "type")
MODICON = {"0": "coil", "1": "discrete", "3": "input", "4": "holding"}
HEX = re.compile(r"^0x[0-9a-f]{1,4}$", re.IGNORECASE)
MAX_ERRORS = 50


@dataclass(frozen=True)
class Register:
    """One value in the map. `address` is the 0-based protocol address within `table`."""

    row: int
    address: int
    table: str
    identifier: str
    name: str
    type: str
    word_order: str = "ABCD"
    scale: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)
    unit: str = ""
    access: str = "r"
    description: str = ""
    address_text: str = ""

    @property
    def count(self) -> int:
        return dt.REGISTER_WIDTHS[self.type]

    @property
    def end(self) -> int:
        return self.address + self.count

    @property
    def scaled(self) -> bool:
        return self.scale != 1 or self.offset != 0

    @property
    def decimals(self) -> int:
        return max(dt.decimals_of(self.scale), dt.decimals_of(self.offset))


@dataclass(frozen=True)
class RegisterMap:
    """A validated map; `registers` keep the file's order."""

    registers: tuple[Register, ...]
    name: str = ""
    directives: dict[str, str] = field(default_factory=dict)

    def by_table(self, table: str) -> list[Register]:
        return sorted((r for r in self.registers if r.table == table), key=lambda r: r.address)


def _column_index(header: list[str], header_row: int, errors: list[RowError]) -> dict[str, int]:
    lookup = {squash: canonical for canonical, names in COLUMNS.items() for squash in names}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        canonical = lookup.get(dt.squash(cell))
        if canonical and canonical not in found:
            found[canonical] = index
    for column in REQUIRED:
        if column not in found:
            errors.append(RowError(header_row, f'missing required column "{column}" (header is '
                                               f'{", ".join(repr(h) for h in header if h)})'))
    if "name" not in found and "identifier" not in found:
        errors.append(RowError(header_row, 'missing column "name" or "identifier"'))
    return found


def parse_address(text: str, base: int) -> tuple[int, str | None]:
    """(0-based address, table implied by a Modicon reference or None); ValueError if invalid."""
    raw = text.strip().replace(" ", "")
    if HEX.match(raw):
        value = int(raw, 16) - base
    elif raw.isdigit():
        if len(raw) in (5, 6) and raw[0] in MODICON and int(raw[1:]) >= 1:
            number = int(raw[1:])
            if number > 65536:
                raise ValueError(f"Modicon reference {text} is beyond register 65536")
            return number - 1, MODICON[raw[0]]
        value = int(raw) - base
    else:
        raise ValueError(f'address "{text}" is not a number (use 40001, 100 or 0x0064)')
    if not 0 <= value <= 65535:
        raise ValueError(f"address {text} is outside 0-65535 (base {base})")
    return value, None


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _parse_row(number: int, cells: list[str], columns: dict[str, int], base: int,
               errors: list[RowError]) -> Register | None:
    start = len(errors)

    def bad(column: str, value: str, message: str) -> None:
        errors.append(RowError(number, message, column, value))

    get = lambda column: _cell(cells, columns, column)  # noqa: E731
    address_text, table_text = get("address"), get("table")
    address, table = 0, "holding"
    implied = None
    if not address_text:
        bad("address", "", "address is empty")
    else:
        try:
            address, implied = parse_address(address_text, base)
        except ValueError as exc:
            bad("address", address_text, str(exc))
    if table_text:
        named = dt.TABLE_ALIASES.get(dt.squash(table_text))
        if named is None:
            bad("table", table_text, f'table "{table_text}" is unknown; use one of '
                                     f'{", ".join(dt.TABLES)}')
        elif implied and named != implied:
            bad("table", table_text, f'table "{table_text}" contradicts address {address_text} '
                                     f"(a Modicon {implied} register reference)")
        table = named or table
    table = implied or table
    type_text = get("type")
    type_name = dt.normalize_type(type_text) if type_text else None
    if type_name is None:
        bad("type", type_text, f'type "{type_text}" is not supported; use one of '
                               f'{", ".join(dt.REGISTER_WIDTHS)}')
    elif table in dt.BIT_TABLES and type_name != "bool":
        bad("type", type_text, f'type "{type_text}" cannot live in the {table} table (bits): '
                               "use bool")
    order_text = get("word_order")
    word_order = dt.normalize_word_order(order_text) if order_text else "ABCD"
    if word_order is None:
        bad("word_order", order_text, f'word order "{order_text}" is unknown; use ABCD (big-'
                                      "endian), CDAB (word-swapped), BADC (byte-swapped) or DCBA "
                                      "(little-endian)")
    numbers = {}
    for column, default in (("scale", Decimal(1)), ("offset", Decimal(0))):
        text = get(column)
        value = dt.parse_decimal(text) if text else default
        if value is None:
            bad(column, text, f'{column} "{text}" is not a number')
        elif column == "scale" and value == 0:
            bad(column, text, "scale must not be 0")
        numbers[column] = value if value is not None else default
    if type_name in ("bool",) and (numbers["scale"] != 1 or numbers["offset"] != 0):
        bad("scale", get("scale"), "a bool cannot have a scale or offset")
    access_text = get("access")
    access = dt.ACCESS_ALIASES.get(dt.squash(access_text)) if access_text else "r"
    if access is None:
        bad("access", access_text, f'access "{access_text}" is unknown; use r, rw or w')
    elif access != "r" and table in dt.READ_ONLY_TABLES:
        bad("access", access_text, f"{table} registers are read-only; access must be r")
    name, identifier_text = get("name"), get("identifier")
    if identifier_text:
        identifier = identifier_text
        if not dt.IDENTIFIER.match(identifier):
            bad("identifier", identifier_text, f'identifier "{identifier_text}" is invalid: use '
                                               "lower-case ASCII letters, digits and _ starting "
                                               "with a letter (at most 64)")
    else:
        prefix = {"holding": "reg", "input": "input", "coil": "coil", "discrete": "discrete"}
        identifier = dt.snake_identifier(name) or f"{prefix[table]}_{address}"
    if len(errors) > start or type_name is None or word_order is None or access is None:
        return None
    return Register(row=number, address=address, table=table, identifier=identifier,
                    name=name or identifier, type=type_name, word_order=word_order,
                    scale=numbers["scale"], offset=numbers["offset"], unit=get("unit"),
                    access=access, description=get("description"), address_text=address_text)


def _check_layout(registers: list[Register], errors: list[RowError]) -> None:
    """Addresses within 0-65535, no overlaps within a table, identifiers unique."""
    seen: dict[str, Register] = {}
    for register in registers:
        if register.identifier in seen:
            first = seen[register.identifier]
            errors.append(RowError(register.row, f'duplicate identifier "{register.identifier}" '
                                                 f"(already used on row {first.row})",
                                   "identifier", register.identifier))
        else:
            seen[register.identifier] = register
        if register.end > 65536:
            errors.append(RowError(register.row, f"address {register.address_text} "
                                                 f"({register.type}) runs past register 65535",
                                   "address", register.address_text))
    for table in dt.TABLES:
        ordered = sorted((r for r in registers if r.table == table), key=lambda r: r.address)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.address < before.end:
                errors.append(RowError(
                    after.row, f"address {after.address_text} ({after.type} "
                    f'"{after.identifier}", {_span(after)}) overlaps row {before.row} '
                    f'"{before.identifier}" ({_span(before)})', "address", after.address_text))


def _span(register: Register) -> str:
    unit = "coil" if register.table == "coil" else "input" if register.table == "discrete" \
        else "register"
    if register.count == 1:
        return f"{unit} {register.address}"
    return f"{unit}s {register.address}-{register.end - 1}"


def register_map_from_table(table: RawTable, *, base: int | None = None,
                            name: str = "") -> RegisterMap:
    errors: list[RowError] = []
    base_text = table.directives.get("base")
    if base is None:
        base = 0
        if base_text is not None:
            if base_text not in ("0", "1"):
                raise RegisterMapError([RowError(None, f'directive "base: {base_text}" must be '
                                                       "0 or 1")])
            base = int(base_text)
    columns = _column_index(table.header, table.header_row, errors)
    if errors:
        raise RegisterMapError(errors)
    if not table.rows:
        raise RegisterMapError([RowError(None, "the register map is empty: a header but no rows")])
    registers = []
    for number, cells in table.rows:
        register = _parse_row(number, cells, columns, base, errors)
        if register is not None:
            registers.append(register)
        if len(errors) >= MAX_ERRORS:
            break
    _check_layout(registers, errors)
    if errors:
        raise RegisterMapError(sorted(errors, key=lambda e: e.row or 0))
    return RegisterMap(tuple(registers), name=name or table.directives.get("name", ""),
                       directives=dict(table.directives))


def parse_register_map(content: bytes | str, *, filename: str,
                       base: int | None = None) -> RegisterMap:
    """Parse a CSV, XLSX or Markdown register map; raise RegisterMapError listing every problem.

    `base` overrides the file's `base:` directive for plain (non-Modicon) addresses.
    """
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return register_map_from_table(read_table(content, filename), base=base, name=stem)
