"""Data types, word orders and identifiers shared by register maps, frames and the generator."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Register types -> number of 16-bit registers. `bool` in a coil/discrete table is one bit; in
# a holding/input table it is one register read as "non-zero is true".
REGISTER_WIDTHS = {"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
                   "int64": 4, "uint64": 4, "float64": 4}
TYPE_ALIASES = {"coil": "bool", "bit": "bool", "boolean": "bool", "short": "int16",
                "ushort": "uint16", "word": "uint16", "int": "int16", "uint": "uint16",
                "dint": "int32", "udint": "uint32", "dword": "uint32", "long": "int32",
                "ulong": "uint32", "float": "float32", "real": "float32", "double": "float64",
                "lreal": "float64", "s16": "int16", "u16": "uint16", "s32": "int32",
                "u32": "uint32", "f32": "float32", "i16": "int16", "i32": "int32"}
INTEGER_RANGES = {
    "int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1), "uint64": (0, 2**64 - 1),
    "bool": (0, 1),
}
FLOAT32_MAX = 3.4028234663852886e38

# Word orders name the byte sequence on the wire for a value whose big-endian bytes are ABCD.
WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
WORD_ORDER_ALIASES = {
    "abcd": "ABCD", "big": "ABCD", "bigendian": "ABCD", "be": "ABCD", "highlow": "ABCD",
    "highwordfirst": "ABCD", "msw": "ABCD", "1234": "ABCD", "大端": "ABCD", "高字在前": "ABCD",
    "cdab": "CDAB", "lowhigh": "CDAB", "wordswap": "CDAB", "wordswapped": "CDAB",
    "lowwordfirst": "CDAB", "lsw": "CDAB", "3412": "CDAB", "低字在前": "CDAB",
    "badc": "BADC", "byteswap": "BADC", "byteswapped": "BADC", "2143": "BADC",
    "dcba": "DCBA", "little": "DCBA", "littleendian": "DCBA", "le": "DCBA", "4321": "DCBA",
    "小端": "DCBA",
}

TABLES = ("holding", "input", "coil", "discrete")
TABLE_ALIASES = {
    "holding": "holding", "holdingregister": "holding", "holdingregisters": "holding",
    "hr": "holding", "4x": "holding", "4": "holding", "保持寄存器": "holding", "保持": "holding",
    "input": "input", "inputregister": "input", "inputregisters": "input", "ir": "input",
    "3x": "input", "3": "input", "输入寄存器": "input", "输入": "input",
    "coil": "coil", "coils": "coil", "0x": "coil", "0": "coil", "线圈": "coil",
    "discrete": "discrete", "discreteinput": "discrete", "discreteinputs": "discrete",
    "di": "discrete", "1x": "discrete", "1": "discrete", "离散输入": "discrete",
}
BIT_TABLES = ("coil", "discrete")
READ_ONLY_TABLES = ("input", "discrete")

ACCESS_ALIASES = {
    "r": "r", "ro": "r", "read": "r", "readonly": "r", "只读": "r", "读": "r",
    "rw": "rw", "r/w": "rw", "readwrite": "rw", "read/write": "rw", "读写": "rw", "可读写": "rw",
    "w": "w", "wo": "w", "write": "w", "writeonly": "w", "只写": "w", "写": "w",
}


def squash(text: str) -> str:
    """Lower-case and drop spaces, '-', '_' so 'Word Order', 'word_order', 'WORD-ORDER' match."""
    return re.sub(r"[\s\-_]+", "", text.strip().lower())


def normalize_type(text: str) -> str | None:
    key = squash(text)
    if key in REGISTER_WIDTHS:
        return key
    return TYPE_ALIASES.get(key)


def normalize_word_order(text: str) -> str | None:
    return WORD_ORDER_ALIASES.get(squash(text))


def parse_decimal(text: str) -> Decimal | None:
    """A finite decimal from user text ('0.1', '1e-2', '10'), or None."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def decimals_of(value: Decimal) -> int:
    """Digits after the point that a value scaled by `value` can have (0.01 -> 2, 10 -> 0)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def snake_identifier(name: str) -> str | None:
    """ASCII snake case from a display name, or None when nothing ASCII is left (e.g. Chinese)."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", ascii_text)
    words = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if not words:
        return None
    if not words[0].isalpha():
        words = f"n_{words}"
    return words[:64].rstrip("_")
