"""Frames <-> property values: header and checksum verified before any field is trusted."""

from __future__ import annotations

import struct
from decimal import ROUND_HALF_EVEN, Decimal

from .crc import crc16_modbus
from .framespec import FRAME
from .model import FLOAT_FORMATS, INTEGER_BYTES, Checksum, Field


class FrameError(ValueError):
    """A frame that does not match the spec (length, header, checksum, BCD digits)."""


def compute_checksum(checksum: Checksum, frame: bytes) -> int:
    covered = frame[checksum.start:checksum.end]
    if checksum.type == "crc16-modbus":
        return crc16_modbus(covered)
    if checksum.type == "sum8":
        return sum(covered) % 256
    if checksum.type == "sum16":
        return sum(covered) % 65536
    if checksum.type == "xor8":
        result = 0
        for byte in covered:
            result ^= byte
        return result
    raise FrameError(f"unknown checksum type {checksum.type}")


def _scale(field: Field, raw: int | float) -> int | float:
    if not field.scaled:
        return raw
    return float(Decimal(raw) * Decimal(field.scale) + Decimal(field.value_offset))


def _decode_field(field: Field, frame: bytes):
    chunk = frame[field.offset:field.offset + field.length]
    if field.type == "bool":
        return bool(chunk[0] >> field.bit & 1) if field.bit is not None else chunk[0] != 0
    if field.type == "bytes":
        return chunk.hex()
    if field.type == "ascii":
        return chunk.rstrip(b"\x00").decode("ascii", errors="replace")
    if field.type == "bcd":
        ordered = chunk if field.endianness == "big" else chunk[::-1]
        digits = []
        for byte in ordered:
            if byte >> 4 > 9 or byte & 0xF > 9:
                raise FrameError(f"{field.identifier}: byte {byte:02x} is not BCD")
            digits.append(f"{byte >> 4}{byte & 0xF}")
        return int("".join(digits))
    if field.type in FLOAT_FORMATS:
        order = ">" if field.endianness == "big" else "<"
        return _scale(field, struct.unpack(order + FLOAT_FORMATS[field.type], chunk)[0])
    raw = int.from_bytes(chunk, field.endianness, signed=field.type.startswith("int"))
    return _scale(field, raw)


def decode_frame(frame: bytes) -> dict:
    """{identifier: value} from one frame; raises FrameError before decoding a bad frame."""
    frame = bytes(frame)
    if (len(frame) != FRAME.length) if FRAME.fixed_length else (len(frame) < FRAME.length):
        expected = FRAME.length if FRAME.fixed_length else f"at least {FRAME.length}"
        raise FrameError(f"frame is {len(frame)} bytes, expected {expected}")
    start = FRAME.header_offset
    if frame[start:start + len(FRAME.header)] != FRAME.header:
        raise FrameError(f"header {frame[start:start + len(FRAME.header)].hex()} is not "
                         f"{FRAME.header.hex()}")
    check = FRAME.checksum
    if check is not None:
        found = int.from_bytes(frame[check.offset:check.offset + check.length], check.endianness)
        expected_sum = compute_checksum(check, frame)
        if found != expected_sum:
            raise FrameError(f"{check.type} checksum is {found:#x}, computed {expected_sum:#x}")
    return {field.identifier: _decode_field(field, frame) for field in FRAME.fields}


def _encode_field(field: Field, value) -> bytes:
    if field.type == "bytes":
        data = bytes.fromhex(value)
    elif field.type == "ascii":
        data = value.encode("ascii") + b"\x00" * (field.length - len(value))
    elif field.type == "bcd":
        digits = f"{int(value):0{field.length * 2}d}"
        if int(value) < 0 or len(digits) > field.length * 2:
            raise FrameError(f"{field.identifier}: {value!r} does not fit {field.length} BCD bytes")
        data = bytes.fromhex(digits)
        data = data if field.endianness == "big" else data[::-1]
    elif field.type in FLOAT_FORMATS:
        number = float(value)
        if field.scaled:
            number = float((Decimal(repr(number)) - Decimal(field.value_offset))
                           / Decimal(field.scale))
        order = ">" if field.endianness == "big" else "<"
        data = struct.pack(order + FLOAT_FORMATS[field.type], number)
    else:
        raw = value
        if field.scaled:
            exact = (Decimal(repr(value)) - Decimal(field.value_offset)) / Decimal(field.scale)
            raw = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))
        size = INTEGER_BYTES[field.type]
        try:
            data = int(raw).to_bytes(size, field.endianness, signed=field.type.startswith("int"))
        except OverflowError as exc:
            raise FrameError(f"{field.identifier}: {value!r} is out of range") from exc
    if len(data) != field.length:
        raise FrameError(f"{field.identifier}: {len(data)} bytes for a {field.length}-byte field")
    return data


def encode_frame(values: dict) -> bytes:
    """A complete frame (header, fields, checksum) from {identifier: value}."""
    frame = bytearray(FRAME.length)
    frame[FRAME.header_offset:FRAME.header_offset + len(FRAME.header)] = FRAME.header
    for field in FRAME.fields:
        value = values[field.identifier]
        if field.bit is not None:
            frame[field.offset] |= (1 if value else 0) << field.bit
        elif field.type == "bool":
            frame[field.offset] = 1 if value else 0
        else:
            frame[field.offset:field.offset + field.length] = _encode_field(field, value)
    check = FRAME.checksum
    if check is not None:
        value = compute_checksum(check, bytes(frame))
        frame[check.offset:check.offset + check.length] = value.to_bytes(check.length,
                                                                         check.endianness)
    return bytes(frame)
