"""The frame layout's types: fields at fixed byte offsets and an optional checksum."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

INTEGER_BYTES = {"uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4, "int32": 4,
                 "uint64": 8, "int64": 8}
FLOAT_FORMATS = {"float32": "f", "float64": "d"}


@dataclass(frozen=True)
class Field:
    """`bit` is set for a bool that is one bit of the byte at `offset`; scale/offset are
    decimal strings so scaling is exact (value = raw * scale + value_offset)."""

    identifier: str
    name: str
    offset: int
    length: int
    type: str
    endianness: str = "big"
    scale: str = "1"
    value_offset: str = "0"
    unit: str = ""
    bit: int | None = None

    @property
    def scaled(self) -> bool:
        return Decimal(self.scale) != 1 or Decimal(self.value_offset) != 0


@dataclass(frozen=True)
class Checksum:
    """`type` is crc16-modbus, sum8, sum16 or xor8 over bytes [start, end)."""

    type: str
    start: int
    end: int
    offset: int
    length: int
    endianness: str


@dataclass(frozen=True)
class Frame:
    identifier: str
    name: str
    length: int
    fixed_length: bool
    header: bytes
    header_offset: int
    fields: tuple[Field, ...]
    checksum: Checksum | None
