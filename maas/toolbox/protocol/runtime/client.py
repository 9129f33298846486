"""A small blocking Modbus TCP client (stdlib socket) for reading and writing the map."""

from __future__ import annotations

import socket

from .codec import decode_registers
from .modbus import (
    ModbusError,
    ReadBlock,
    parse_read_response,
    parse_write_response,
    read_blocks,
    read_request,
    tcp_frame,
    write_request,
)


class ModbusTcpClient:
    """One connection; requests are sent one at a time and matched by transaction id."""

    def __init__(self, host: str, port: int = 502, unit_id: int = 1,
                 timeout: float = 3.0) -> None:
        self.unit_id = unit_id
        self.transaction_id = 0
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> ModbusTcpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _receive(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ModbusError("connection closed by the device")
            data += chunk
        return data

    def request(self, pdu: bytes) -> bytes:
        """Send a PDU, return the response PDU."""
        self.transaction_id = self.transaction_id % 0xFFFF + 1
        self.sock.sendall(tcp_frame(self.transaction_id, self.unit_id, pdu))
        header = self._receive(7)
        transaction_id = int.from_bytes(header[0:2], "big")
        length = int.from_bytes(header[4:6], "big")
        if header[2:4] != b"\x00\x00" or transaction_id != self.transaction_id or length < 2:
            raise ModbusError(f"bad MBAP header {header.hex()}")
        body = self._receive(length - 1)
        if header[6] != self.unit_id:
            raise ModbusError(f"response from unit {header[6]}, expected {self.unit_id}")
        return body

    def read_block(self, block: ReadBlock) -> list[int]:
        return parse_read_response(block, self.request(read_request(block)))

    def read_all(self) -> dict[str, int | float | bool]:
        tables: dict[str, dict[int, int]] = {}
        for block in read_blocks():
            words = self.read_block(block)
            tables.setdefault(block.table, {}).update(
                (block.start + i, word) for i, word in enumerate(words))
        return decode_registers(tables)

    def write(self, identifier: str, value: int | float | bool) -> None:
        pdu = write_request(identifier, value)
        parse_write_response(pdu, self.request(pdu))


def read_all(host: str, port: int = 502, unit_id: int = 1,
             timeout: float = 3.0) -> dict[str, int | float | bool]:
    """Read every property of the map: {identifier: value}."""
    with ModbusTcpClient(host, port, unit_id, timeout) as client:
        return client.read_all()


def write(host: str, port: int, identifier: str, value: int | float | bool, unit_id: int = 1,
          timeout: float = 3.0) -> None:
    """Write one writable property (FC05/FC06/FC16) and check the device's confirmation."""
    with ModbusTcpClient(host, port, unit_id, timeout) as client:
        client.write(identifier, value)
