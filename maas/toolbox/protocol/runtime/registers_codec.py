"""Registers <-> property values: word order, sign, exact decimal scaling, range checks."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

from .model import BIT_TABLES, FLOAT_FORMATS, TYPE_BYTES, Register
from .registermap import REGISTERS

BY_IDENTIFIER = {register.identifier: register for register in REGISTERS}


class DecodeError(ValueError):
    """Registers missing or malformed for a value."""


class EncodeError(ValueError):
    """A value that the register cannot carry (out of range, wrong type, read-only)."""


def to_big_endian(wire: bytes, word_order: str) -> bytes:
    """Wire bytes in `word_order` -> big-endian bytes (the mapping is its own inverse)."""
    if word_order == "ABCD":
        return wire
    if word_order == "DCBA":
        return wire[::-1]
    pairs = [wire[i:i + 2] for i in range(0, len(wire), 2)]
    if word_order == "CDAB":
        return b"".join(reversed(pairs))
    if word_order == "BADC":
        return b"".join(pair[::-1] for pair in pairs)
    raise ValueError(f"unknown word order {word_order}")


def _scale(register: Register, raw: int | float) -> int | float:
    if not register.scaled:
        return raw
    return float(Decimal(raw) * Decimal(register.scale) + Decimal(register.offset))


def decode_value(register: Register, words: list[int]) -> int | float | bool:
    """The property value carried by `words` (register values, or bits for coils)."""
    if len(words) != register.count:
        raise DecodeError(f"{register.identifier}: expected {register.count} words, "
                          f"got {len(words)}")
    if register.table in BIT_TABLES:
        return bool(words[0])
    wire = b"".join(word.to_bytes(2, "big") for word in words)
    data = to_big_endian(wire, register.word_order)
    if register.type == "bool":
        return any(data)
    if register.type in FLOAT_FORMATS:
        return _scale(register, struct.unpack(FLOAT_FORMATS[register.type], data)[0])
    raw = int.from_bytes(data, "big", signed=register.type.startswith("int"))
    return _scale(register, raw)


def _raw_integer(register: Register, value: int | float) -> int:
    if register.scaled:
        exact = (Decimal(repr(value)) - Decimal(register.offset)) / Decimal(register.scale)
        raw = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        raw = int(value)
    else:
        raise EncodeError(f"{register.identifier}: {value!r} is not an integer")
    bits = TYPE_BYTES[register.type] * 8
    signed = register.type.startswith("int")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= raw <= high:
        raise EncodeError(f"{register.identifier}: {value!r} is out of range (raw {raw}, "
                          f"{register.type} allows {low}..{high})")
    return raw


def encode_value(register: Register, value: int | float | bool) -> list[int]:
    """The register words (or bit) for `value`, with the inverse scale and a range check."""
    if isinstance(value, bool) != (register.type == "bool"):
        raise EncodeError(f"{register.identifier}: {value!r} is not a {register.type} value")
    if register.table in BIT_TABLES:
        return [1 if value else 0]
    if register.type == "bool":
        data = (1 if value else 0).to_bytes(2, "big")
    elif register.type in FLOAT_FORMATS:
        number = float(value)
        if register.scaled:
            number = float((Decimal(repr(number)) - Decimal(register.offset))
                           / Decimal(register.scale))
        try:
            data = struct.pack(FLOAT_FORMATS[register.type], number)
        except (OverflowError, struct.error) as exc:
            raise EncodeError(f"{register.identifier}: {value!r} is out of range") from exc
    else:
        raw = _raw_integer(register, value)
        data = raw.to_bytes(TYPE_BYTES[register.type], "big", signed=raw < 0)
    wire = to_big_endian(data, register.word_order)
    return [int.from_bytes(wire[i:i + 2], "big") for i in range(0, len(wire), 2)]


def decode_registers(tables: Mapping[str, Mapping[int, int]]) -> dict[str, int | float | bool]:
    """{identifier: value} from {table: {address: word}} (e.g. everything `read_all` fetched)."""
    values = {}
    for register in REGISTERS:
        table = tables.get(register.table, {})
        try:
            words = [table[register.address + i] for i in range(register.count)]
        except KeyError as exc:
            raise DecodeError(f"{register.identifier}: {register.table} address {exc} was not "
                              "read") from None
        values[register.identifier] = decode_value(register, words)
    return values
