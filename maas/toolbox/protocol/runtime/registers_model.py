"""The register table's row type and the Modbus data-type facts the codec needs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

TYPE_BYTES = {"bool": 2, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "float32": 4,
              "int64": 8, "uint64": 8, "float64": 8}
FLOAT_FORMATS = {"float32": ">f", "float64": ">d"}
BIT_TABLES = ("coil", "discrete")
TABLES = ("holding", "input", "coil", "discrete")


@dataclass(frozen=True)
class Register:
    """One value: `address` is the 0-based protocol address in `table`; scale/offset are
    decimal strings so scaling is exact (value = raw * scale + offset)."""

    identifier: str
    name: str
    table: str
    address: int
    type: str
    word_order: str = "ABCD"
    scale: str = "1"
    offset: str = "0"
    unit: str = ""
    access: str = "r"

    @property
    def count(self) -> int:
        """Registers (or bits, for coil/discrete tables) the value occupies."""
        return 1 if self.table in BIT_TABLES else TYPE_BYTES[self.type] // 2

    @property
    def scaled(self) -> bool:
        return Decimal(self.scale) != 1 or Decimal(self.offset) != 0

    @property
    def writable(self) -> bool:
        return self.access in ("rw", "w")
