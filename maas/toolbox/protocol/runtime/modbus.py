"""Modbus framing: read/write request PDUs, TCP (MBAP) and RTU (CRC16) frames, responses."""

from __future__ import annotations

from typing import NamedTuple

from .codec import BY_IDENTIFIER, EncodeError, encode_value
from .crc import crc16_modbus as crc16
from .model import BIT_TABLES, TABLES
from .registermap import REGISTERS

READ_FUNCTION = {"coil": 0x01, "discrete": 0x02, "holding": 0x03, "input": 0x04}
MAX_COUNT = {"coil": 2000, "discrete": 2000, "holding": 125, "input": 125}
EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
              4: "server device failure", 5: "acknowledge", 6: "server device busy",
              8: "memory parity error", 10: "gateway path unavailable",
              11: "gateway target device failed to respond"}


class ModbusError(Exception):
    """The device answered with an exception response, or the response is malformed."""

    def __init__(self, message: str, exception_code: int | None = None) -> None:
        super().__init__(message)
        self.exception_code = exception_code


class ReadBlock(NamedTuple):
    table: str
    start: int
    count: int


def read_blocks() -> list[ReadBlock]:
    """Contiguous runs per table, at most 125 registers / 2000 bits, values never split."""
    blocks: list[ReadBlock] = []
    for table in TABLES:
        start = end = None
        for register in sorted((r for r in REGISTERS if r.table == table),
                               key=lambda r: r.address):
            if start is not None and register.address == end \
                    and end + register.count - start <= MAX_COUNT[table]:
                end += register.count
                continue
            if start is not None:
                blocks.append(ReadBlock(table, start, end - start))
            start, end = register.address, register.address + register.count
        if start is not None:
            blocks.append(ReadBlock(table, start, end - start))
    return blocks


def read_request(block: ReadBlock) -> bytes:
    """The request PDU (function code, start address, quantity)."""
    return (bytes([READ_FUNCTION[block.table]]) + block.start.to_bytes(2, "big")
            + block.count.to_bytes(2, "big"))


def write_request(identifier: str, value: int | float | bool) -> bytes:
    """FC05 (coil), FC06 (one register) or FC16 (several) for a writable property."""
    register = BY_IDENTIFIER.get(identifier)
    if register is None:
        raise EncodeError(f"unknown property {identifier!r}")
    if not register.writable:
        raise EncodeError(f"{identifier} is read-only")
    words = encode_value(register, value)
    address = register.address.to_bytes(2, "big")
    if register.table == "coil":
        return b"\x05" + address + (b"\xff\x00" if words[0] else b"\x00\x00")
    if len(words) == 1:
        return b"\x06" + address + words[0].to_bytes(2, "big")
    payload = b"".join(word.to_bytes(2, "big") for word in words)
    return (b"\x10" + address + len(words).to_bytes(2, "big") + bytes([len(payload)])
            + payload)


def tcp_frame(transaction_id: int, unit_id: int, pdu: bytes) -> bytes:
    """Modbus TCP ADU: MBAP header (transaction, protocol 0, length, unit) + PDU."""
    return (transaction_id.to_bytes(2, "big") + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big")
            + bytes([unit_id]) + pdu)


def rtu_frame(unit_id: int, pdu: bytes) -> bytes:
    """Modbus RTU ADU: unit + PDU + CRC16 (low byte first)."""
    body = bytes([unit_id]) + pdu
    return body + crc16(body).to_bytes(2, "little")


def check_rtu_frame(frame: bytes) -> bytes:
    """The PDU of an RTU frame whose CRC is correct."""
    if len(frame) < 4 or crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
        raise ModbusError(f"bad RTU frame or CRC: {frame.hex()}")
    return frame[1:-2]


def _check_exception(function: int, pdu: bytes) -> None:
    if pdu and pdu[0] == function | 0x80:
        code = pdu[1] if len(pdu) > 1 else 0
        raise ModbusError(f"device exception {code} ({EXCEPTIONS.get(code, 'unknown')}) for "
                          f"function {function}", code)
    if not pdu or pdu[0] != function:
        raise ModbusError(f"unexpected response {pdu.hex()} to function {function}")


def parse_read_response(block: ReadBlock, pdu: bytes) -> list[int]:
    """Register values (or bits) of a read response; raises ModbusError on an exception."""
    _check_exception(READ_FUNCTION[block.table], pdu)
    if block.table in BIT_TABLES:
        size = (block.count + 7) // 8
        if len(pdu) != 2 + size or pdu[1] != size:
            raise ModbusError(f"bad bit response length: {pdu.hex()}")
        return [pdu[2 + i // 8] >> (i % 8) & 1 for i in range(block.count)]
    if len(pdu) != 2 + 2 * block.count or pdu[1] != 2 * block.count:
        raise ModbusError(f"bad register response length for {block}: {pdu.hex()}")
    return [int.from_bytes(pdu[2 + 2 * i:4 + 2 * i], "big") for i in range(block.count)]


def parse_write_response(request: bytes, pdu: bytes) -> None:
    """A write is confirmed by an echo of address and value (FC05/06) or quantity (FC16)."""
    _check_exception(request[0], pdu)
    if pdu[:5] != request[:5]:
        raise ModbusError(f"write not confirmed: sent {request.hex()}, got {pdu.hex()}")
