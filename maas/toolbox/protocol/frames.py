"""Custom binary frame specs (YAML or JSON): fields at fixed offsets, a constant header, a checksum.

Offsets are 0-based byte positions; `covers: [start, end)` is a half-open byte range (a negative
end counts from the frame's end is NOT supported: frames here have a fixed layout).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from maas.toolbox.protocol import datatypes as dt
from maas.toolbox.protocol.errors import FieldError, FrameSpecError

FIELD_SIZES = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
               "uint64": 8, "int64": 8, "float32": 4, "float64": 8, "bool": 1}
VARIABLE_TYPES = ("bytes", "ascii", "bcd")
FIELD_TYPES = tuple(FIELD_SIZES) + VARIABLE_TYPES
CHECKSUM_SIZES = {"crc16-modbus": 2, "sum8": 1, "sum16": 2, "xor8": 1}
CHECKSUM_ALIASES = {
    "crc16modbus": "crc16-modbus", "crc16": "crc16-modbus", "modbus": "crc16-modbus",
    "crcmodbus": "crc16-modbus", "sum8": "sum8", "sum": "sum8", "sum16": "sum16",
    "xor8": "xor8", "xor": "xor8", "bcc": "xor8",
}
ENDIANNESS = {"big": "big", "be": "big", "little": "little", "le": "little", "大端": "big",
              "小端": "little"}
HEX_BYTES = re.compile(r"^(0x)?([0-9a-f]{2}[\s:]?)+$", re.IGNORECASE)
MAX_FRAME = 65535


@dataclass(frozen=True)
class FrameField:
    """One field; `bit` is set for a bool that is one bit of the byte at `offset`."""

    index: int
    identifier: str
    name: str
    offset: int
    length: int
    type: str
    endianness: str = "big"
    scale: Decimal = Decimal(1)
    offset_value: Decimal = Decimal(0)
    unit: str = ""
    bit: int | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    @property
    def scaled(self) -> bool:
        return self.scale != 1 or self.offset_value != 0

    @property
    def decimals(self) -> int:
        return max(dt.decimals_of(self.scale), dt.decimals_of(self.offset_value))


@dataclass(frozen=True)
class Checksum:
    type: str
    start: int
    end: int
    offset: int
    endianness: str

    @property
    def length(self) -> int:
        return CHECKSUM_SIZES[self.type]


@dataclass(frozen=True)
class FrameSpec:
    identifier: str
    name: str
    length: int
    fixed_length: bool
    header: bytes
    header_offset: int
    fields: tuple[FrameField, ...]
    checksum: Checksum | None
    description: str = ""


def _int(value: Any, where: str, key: str, errors: list[FieldError], minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.append(FieldError(where, f"{key} {value!r} must be an integer >= {minimum}"))
        return minimum
    return value


def _decimal(value: Any, where: str, key: str, errors: list[FieldError], default: Decimal
             ) -> Decimal:
    if value is None:
        return default
    number = dt.parse_decimal(str(value)) if not isinstance(value, bool) else None
    if number is None or (key == "scale" and number == 0):
        kind = "non-zero number" if key == "scale" else "number"
        errors.append(FieldError(where, f"{key} {value!r} is not a {kind}"))
        return default
    return number


def _header(raw: Any, errors: list[FieldError]) -> bytes:
    if raw is None:
        return b""
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b <= 255 for b in raw):
        return bytes(raw)
    if isinstance(raw, str) and HEX_BYTES.match(raw.strip()):
        return bytes.fromhex(re.sub(r"0x|[\s:]", "", raw.strip(), flags=re.IGNORECASE))
    errors.append(FieldError("header", f"{raw!r} must be hex bytes such as \"AA 55\" or a list "
                                       "of integers 0-255"))
    return b""


def _field(index: int, raw: Any, errors: list[FieldError]) -> FrameField | None:
    if not isinstance(raw, dict):
        errors.append(FieldError(f"field {index}", "must be a mapping with offset, type..."))
        return None
    identifier = str(raw.get("identifier") or dt.snake_identifier(str(raw.get("name", ""))) or "")
    where = f'field {index} "{identifier or raw.get("name", "?")}"'
    start = len(errors)
    if not dt.IDENTIFIER.match(identifier):
        errors.append(FieldError(where, f"identifier {identifier!r} is invalid: use lower-case "
                                        "ASCII letters, digits and _ starting with a letter"))
    type_name = str(raw.get("type", "")).strip().lower()
    if type_name not in FIELD_TYPES:
        errors.append(FieldError(where, f'type "{type_name}" is not supported; use one of '
                                        f'{", ".join(FIELD_TYPES)}'))
    offset = _int(raw.get("offset"), where, "offset", errors)
    size = FIELD_SIZES.get(type_name)
    length_raw = raw.get("length", size)
    length = _int(length_raw, where, "length", errors, minimum=1)
    if size is not None and length_raw is not None and length != size:
        errors.append(FieldError(where, f"length {length} does not match type {type_name} "
                                        f"({size} byte{'s' if size > 1 else ''})"))
    if type_name == "bcd" and length > 9:
        errors.append(FieldError(where, "a bcd field holds at most 9 bytes (18 digits)"))
    endianness = ENDIANNESS.get(str(raw.get("endianness", "big")).strip().lower())
    if endianness is None:
        errors.append(FieldError(where, f"endianness {raw.get('endianness')!r} must be big or "
                                        "little"))
    bit = raw.get("bit")
    if bit is not None and (type_name != "bool" or not isinstance(bit, int) or not 0 <= bit <= 7):
        errors.append(FieldError(where, f"bit {bit!r} must be 0-7 and only on a bool field"))
    scale = _decimal(raw.get("scale"), where, "scale", errors, Decimal(1))
    offset_value = _decimal(raw.get("value_offset"), where, "value_offset", errors, Decimal(0))
    if type_name in VARIABLE_TYPES + ("bool",) and (scale != 1 or offset_value != 0):
        errors.append(FieldError(where, f"a {type_name} field cannot have a scale"))
    if len(errors) > start:
        return None
    return FrameField(index=index, identifier=identifier, name=str(raw.get("name") or identifier),
                      offset=offset, length=length, type=type_name, endianness=endianness or "big",
                      scale=scale, offset_value=offset_value, unit=str(raw.get("unit") or ""),
                      bit=bit if type_name == "bool" else None)


def _checksum(raw: Any, length: int, errors: list[FieldError]) -> Checksum | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.append(FieldError("checksum", "must be a mapping with type, covers, offset"))
        return None
    start_count = len(errors)
    kind = CHECKSUM_ALIASES.get(dt.squash(str(raw.get("type", ""))))
    if kind is None:
        errors.append(FieldError("checksum", f'type "{raw.get("type")}" is not supported; use '
                                             f'one of {", ".join(CHECKSUM_SIZES)}'))
        return None
    size = CHECKSUM_SIZES[kind]
    offset = _int(raw.get("offset", length - size), "checksum", "offset", errors)
    covers = raw.get("covers", [0, offset])
    if (not isinstance(covers, list) or len(covers) != 2
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in covers)):
        errors.append(FieldError("checksum", f"covers {covers!r} must be [start, end) byte "
                                             "offsets"))
        return None
    start, end = covers
    if not 0 <= start < end <= length:
        errors.append(FieldError("checksum", f"covers [{start}, {end}) must lie within the "
                                             f"frame's {length} bytes with start < end"))
    if offset + size > length:
        errors.append(FieldError("checksum", f"offset {offset} + {size} bytes is beyond the "
                                             f"frame length {length}"))
    if start < offset + size and offset < end:
        errors.append(FieldError("checksum", f"covers [{start}, {end}) includes the checksum "
                                             f"itself (bytes {offset}-{offset + size - 1})"))
    default_order = "little" if kind == "crc16-modbus" else "big"
    endianness = ENDIANNESS.get(str(raw.get("endianness", default_order)).strip().lower())
    if endianness is None:
        errors.append(FieldError("checksum", f"endianness {raw.get('endianness')!r} must be big "
                                             "or little"))
    if len(errors) > start_count:
        return None
    return Checksum(kind, start, end, offset, endianness or default_order)


def _check_layout(spec_length: int, header: bytes, header_offset: int,
                  fields: list[FrameField], checksum: Checksum | None,
                  errors: list[FieldError]) -> None:
    spans: list[tuple[int, int, str, FrameField | None]] = []
    if header:
        spans.append((header_offset, header_offset + len(header), "header", None))
    if checksum:
        spans.append((checksum.offset, checksum.offset + checksum.length, "checksum", None))
    seen: dict[str, FrameField] = {}
    for item in fields:
        where = f'field {item.index} "{item.identifier}"'
        if item.identifier in seen:
            errors.append(FieldError(where, f'duplicate identifier (already field '
                                            f'{seen[item.identifier].index})'))
        seen.setdefault(item.identifier, item)
        if item.end > spec_length:
            errors.append(FieldError(where, f"bytes {item.offset}-{item.end - 1} are beyond the "
                                            f"frame length {spec_length}"))
        spans.append((item.offset, item.end, where, item))
    spans.sort(key=lambda s: (s[0], s[1]))
    for i, (start, end, label, item) in enumerate(spans):
        for other_start, other_end, other_label, other in spans[i + 1:]:
            if other_start >= end:
                break
            same_byte_bits = (item is not None and other is not None and item.bit is not None
                              and other.bit is not None and item.bit != other.bit)
            if not same_byte_bits:
                errors.append(FieldError(other_label, f"bytes {other_start}-{other_end - 1} "
                                                      f"overlap {label} (bytes {start}-{end - 1})"))


def frame_spec_from_dict(doc: Any) -> FrameSpec:
    """Validate a parsed document; raise FrameSpecError naming each bad field."""
    if not isinstance(doc, dict):
        raise FrameSpecError([FieldError("spec", "must be a mapping with name, length, fields")])
    errors: list[FieldError] = []
    identifier = str(doc.get("identifier") or dt.snake_identifier(str(doc.get("name", ""))) or "")
    if not dt.IDENTIFIER.match(identifier):
        errors.append(FieldError("spec", f"identifier {identifier!r} is invalid (give "
                                         "identifier: lower_snake_case)"))
    fixed = "length" in doc
    length = _int(doc.get("length", doc.get("min_length")), "spec", "length", errors, minimum=1)
    if length > MAX_FRAME:
        errors.append(FieldError("spec", f"length {length} is larger than {MAX_FRAME}"))
    header = _header(doc.get("header"), errors)
    header_offset = _int(doc.get("header_offset", 0), "header", "header_offset", errors)
    if header and header_offset + len(header) > length:
        errors.append(FieldError("header", f"{len(header)} bytes at offset {header_offset} are "
                                           f"beyond the frame length {length}"))
    raw_fields = doc.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        errors.append(FieldError("fields", "must be a non-empty list"))
        raw_fields = []
    fields = [f for i, raw in enumerate(raw_fields, start=1) if (f := _field(i, raw, errors))]
    checksum = _checksum(doc.get("checksum"), length, errors)
    _check_layout(length, header, header_offset, fields, checksum, errors)
    if errors:
        raise FrameSpecError(errors)
    return FrameSpec(identifier=identifier, name=str(doc.get("name") or identifier),
                     length=length, fixed_length=fixed, header=header,
                     header_offset=header_offset, fields=tuple(fields), checksum=checksum,
                     description=str(doc.get("description") or ""))


def parse_frame_spec(content: bytes | str, *, filename: str = "frame.yaml") -> FrameSpec:
    """Parse a YAML (safe_load) or JSON frame spec."""
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    try:
        doc = json.loads(text) if filename.lower().endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise FrameSpecError([FieldError("spec", f"not valid YAML/JSON: {exc}")]) from exc
    return frame_spec_from_dict(doc)
