"""CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF), table-driven: the one
implementation both register packages (RTU frames) and frame packages (checksums) ship."""

from __future__ import annotations


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC_TABLE = tuple(_crc_table())


def crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc
