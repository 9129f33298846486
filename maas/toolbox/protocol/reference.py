"""The reference implementation (struct-based) that computes the golden frames.

Generated packages carry their own, independent codec (int.from_bytes, a table-driven CRC); the
golden tests in each package compare the two. This module is pinned by unit tests against
hand-written frames from the Modbus specification and well-known CRCs.
"""

from __future__ import annotations

import struct
import zlib
from decimal import ROUND_HALF_EVEN, Decimal

from maas.toolbox.protocol import datatypes as dt
from maas.toolbox.protocol.frames import FrameField, FrameSpec
from maas.toolbox.protocol.registers import Register, RegisterMap

STRUCT_CODES = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "float32": "f",
                "int64": "q", "uint64": "Q", "float64": "d", "bool": "H",
                "int8": "b", "uint8": "B"}
READ_FUNCTIONS = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
MAX_READ = {"coil": 2000, "discrete": 2000, "holding": 125, "input": 125}


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), bit by bit."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def checksum(kind: str, data: bytes) -> int:
    if kind == "crc16-modbus":
        return crc16_modbus(data)
    if kind == "sum8":
        return sum(data) & 0xFF
    if kind == "sum16":
        return sum(data) & 0xFFFF
    if kind == "xor8":
        result = 0
        for byte in data:
            result ^= byte
        return result
    raise ValueError(f"unknown checksum {kind}")


def _to_raw(type_name: str, scale: Decimal, offset: Decimal, value: float | int | bool):
    if type_name == "bool":
        return 1 if value else 0
    exact = (Decimal(repr(value)) - offset) / scale if (scale != 1 or offset != 0) else None
    if type_name.startswith("float"):
        return float(exact) if exact is not None else float(value)
    raw = int(exact.to_integral_value(rounding=ROUND_HALF_EVEN)) if exact is not None else value
    low, high = dt.INTEGER_RANGES.get(type_name) or _byte_range(type_name)
    if not isinstance(raw, int) or not low <= raw <= high:
        raise ValueError(f"{value!r} is out of range for {type_name}")
    return raw


def _byte_range(type_name: str) -> tuple[int, int]:
    return {"int8": (-128, 127), "uint8": (0, 255)}[type_name]


def _from_raw(type_name: str, scale: Decimal, offset: Decimal, raw):
    if type_name == "bool":
        return bool(raw)
    if scale != 1 or offset != 0:
        return float(Decimal(raw) * scale + offset)
    return raw


def apply_word_order(data: bytes, word_order: str) -> bytes:
    """Big-endian bytes ABCD... -> the wire order named by `word_order` (its own inverse)."""
    words = [data[i:i + 2] for i in range(0, len(data), 2)]
    if word_order in ("CDAB", "DCBA"):
        words.reverse()
    if word_order in ("BADC", "DCBA"):
        words = [w[::-1] for w in words]
    return b"".join(words)


def register_words(register: Register, value) -> list[int]:
    """The 16-bit register values (or one bit for coils) that carry `value`."""
    raw = _to_raw(register.type, register.scale, register.offset, value)
    if register.table in dt.BIT_TABLES:
        return [raw]
    packed = apply_word_order(struct.pack(">" + STRUCT_CODES[register.type], raw),
                              register.word_order)
    return [v for (v,) in struct.iter_unpack(">H", packed)]


def register_value(register: Register, words: list[int]):
    if register.table in dt.BIT_TABLES:
        return bool(words[0])
    packed = apply_word_order(struct.pack(f">{len(words)}H", *words), register.word_order)
    if register.type == "bool":
        return words[0] != 0
    (raw,) = struct.unpack(">" + STRUCT_CODES[register.type], packed)
    return _from_raw(register.type, register.scale, register.offset, raw)


def read_blocks(register_map: RegisterMap) -> list[tuple[str, int, int]]:
    """(table, start, count): contiguous runs, a value never split, at most MAX_READ each."""
    blocks: list[tuple[str, int, int]] = []
    for table in dt.TABLES:
        for register in register_map.by_table(table):
            if blocks and blocks[-1][0] == table:
                _, start, count = blocks[-1]
                if start + count == register.address and count + register.count <= MAX_READ[table]:
                    blocks[-1] = (table, start, count + register.count)
                    continue
            blocks.append((table, register.address, register.count))
    return blocks


def read_pdu(table: str, start: int, count: int) -> bytes:
    return struct.pack(">BHH", READ_FUNCTIONS[table], start, count)


def write_pdu(register: Register, value) -> bytes:
    """FC05 for a coil, FC06 for one register, FC16 for a multi-register value."""
    words = register_words(register, value)
    if register.table == "coil":
        return struct.pack(">BHH", 5, register.address, 0xFF00 if words[0] else 0)
    if len(words) == 1:
        return struct.pack(">BHH", 6, register.address, words[0])
    return struct.pack(f">BHHB{len(words)}H", 16, register.address, len(words), 2 * len(words),
                       *words)


def tcp_adu(transaction_id: int, unit_id: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", transaction_id, 0, len(pdu) + 1, unit_id) + pdu


def rtu_adu(unit_id: int, pdu: bytes) -> bytes:
    body = struct.pack(">B", unit_id) + pdu
    return body + struct.pack("<H", crc16_modbus(body))


def _seed(identifier: str) -> int:
    return zlib.crc32(identifier.encode())


def sample_raw(type_name: str, identifier: str):
    """A deterministic, non-trivial raw value for golden tests (all bytes exercised)."""
    seed = _seed(identifier)
    if type_name == "bool":
        return seed & 1 or 1
    if type_name.startswith("float"):
        number = ((seed % 2_000_000) - 1_000_000) / 1000 + 0.123
        code = ">f" if type_name == "float32" else ">d"
        return struct.unpack(code, struct.pack(code, number))[0]
    low, high = dt.INTEGER_RANGES.get(type_name) or _byte_range(type_name)
    span = high - low + 1
    mixed = (seed * 2654435761 + 0x9E3779B97F4A7C15) % span
    return low + mixed


def sample_register_value(register: Register, salt: str = ""):
    raw = sample_raw(register.type, register.identifier + salt)
    return _from_raw(register.type, register.scale, register.offset, raw)


def field_bytes(field: FrameField, value) -> bytes:
    """The bytes of one non-bit field."""
    order = ">" if field.endianness == "big" else "<"
    if field.type == "bytes":
        data = bytes.fromhex(value)
    elif field.type == "ascii":
        data = value.encode("ascii").ljust(field.length, b"\x00")
    elif field.type == "bcd":
        digits = str(int(value)).rjust(field.length * 2, "0")
        data = bytes(int(digits[i]) << 4 | int(digits[i + 1]) for i in range(0, len(digits), 2))
        data = data if field.endianness == "big" else data[::-1]
    elif field.type == "bool":
        data = b"\x01" if value else b"\x00"
    else:
        raw = _to_raw(field.type, field.scale, field.offset_value, value)
        data = struct.pack(order + STRUCT_CODES[field.type], raw)
    if len(data) != field.length:
        raise ValueError(f"{field.identifier}: {len(data)} bytes for a {field.length}-byte field")
    return data


def field_value(field: FrameField, data: bytes):
    chunk = data[field.offset:field.end]
    order = ">" if field.endianness == "big" else "<"
    if field.type == "bool":
        return bool(chunk[0] >> field.bit & 1) if field.bit is not None else chunk[0] != 0
    if field.type == "bytes":
        return chunk.hex()
    if field.type == "ascii":
        return chunk.rstrip(b"\x00").decode("ascii")
    if field.type == "bcd":
        ordered = chunk if field.endianness == "big" else chunk[::-1]
        return int("".join(f"{b >> 4}{b & 0xF}" for b in ordered))
    (raw,) = struct.unpack(order + STRUCT_CODES[field.type], chunk)
    return _from_raw(field.type, field.scale, field.offset_value, raw)


def encode_frame(spec: FrameSpec, values: dict) -> bytes:
    frame = bytearray(spec.length)
    frame[spec.header_offset:spec.header_offset + len(spec.header)] = spec.header
    for field in spec.fields:
        if field.bit is not None:
            frame[field.offset] |= (1 if values[field.identifier] else 0) << field.bit
        else:
            frame[field.offset:field.end] = field_bytes(field, values[field.identifier])
    if spec.checksum:
        check = spec.checksum
        value = checksum(check.type, bytes(frame[check.start:check.end]))
        frame[check.offset:check.offset + check.length] = value.to_bytes(
            check.length, check.endianness)
    return bytes(frame)


def decode_frame(spec: FrameSpec, data: bytes) -> dict:
    return {field.identifier: field_value(field, data) for field in spec.fields}


def sample_field_value(field: FrameField, salt: str = ""):
    seed = _seed(field.identifier + salt)
    if field.type == "bytes":
        return bytes((seed >> (i % 4 * 8)) & 0xFF ^ i for i in range(field.length)).hex()
    if field.type == "ascii":
        return (salt + field.identifier.upper().replace("_", "") + "0123456789")[:field.length]
    if field.type == "bcd":
        return seed % (10 ** (2 * field.length))
    if field.type == "bool":
        return bool(seed & 1)
    return _from_raw(field.type, field.scale, field.offset_value,
                     sample_raw(field.type, field.identifier + salt))
