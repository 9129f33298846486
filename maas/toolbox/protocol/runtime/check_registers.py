"""Golden tests: this package's codec against frames computed by an independent reference."""

# ruff: noqa: I001  (repo-only line: in a generated package the import order is right)
from __future__ import annotations

import socket
import socketserver
import threading

import pytest
from golden import CRCS, READS, VALUES, WRITES

from generated_package.client import ModbusTcpClient, read_all
from generated_package.codec import BY_IDENTIFIER, EncodeError, decode_value, encode_value
from generated_package.modbus import (
    READ_FUNCTION,
    ModbusError,
    check_rtu_frame,
    crc16,
    parse_read_response,
    read_blocks,
    read_request,
    rtu_frame,
    tcp_frame,
    write_request,
)


def words_of(text: str) -> list[int]:
    return [int(text[i:i + 4], 16) for i in range(0, len(text), 4)]


@pytest.mark.parametrize(("data", "expected"), CRCS)
def test_crc16_modbus(data: str, expected: int) -> None:
    assert crc16(bytes.fromhex(data)) == expected


@pytest.mark.parametrize(("identifier", "value", "words"), VALUES)
def test_decode_golden(identifier: str, value, words: str) -> None:
    decoded = decode_value(BY_IDENTIFIER[identifier], words_of(words))
    assert decoded == value and type(decoded) is type(value)


@pytest.mark.parametrize(("identifier", "value", "words"), VALUES)
def test_encode_golden(identifier: str, value, words: str) -> None:
    assert encode_value(BY_IDENTIFIER[identifier], value) == words_of(words)


def test_read_requests_golden() -> None:
    blocks = read_blocks()
    assert [tuple(block[:3]) for block in blocks] == [tuple(read[:3]) for read in READS]
    for number, (block, read) in enumerate(zip(blocks, READS, strict=True), start=1):
        assert tcp_frame(number, 1, read_request(block)).hex() == read[3]
        assert rtu_frame(1, read_request(block)).hex() == read[4]
        assert check_rtu_frame(bytes.fromhex(read[4])) == read_request(block)


@pytest.mark.parametrize(("identifier", "value", "pdu", "rtu"), WRITES)
def test_write_requests_golden(identifier: str, value, pdu: str, rtu: str) -> None:
    assert write_request(identifier, value).hex() == pdu
    assert rtu_frame(1, bytes.fromhex(pdu)).hex() == rtu


def test_read_only_properties_refuse_writes() -> None:
    for register in BY_IDENTIFIER.values():
        if not register.writable:
            with pytest.raises(EncodeError, match="read-only"):
                write_request(register.identifier, True if register.type == "bool" else 1)


def test_out_of_range_writes_are_refused() -> None:
    for register in BY_IDENTIFIER.values():
        if register.writable and not register.type.startswith(("float", "bool")):
            with pytest.raises(EncodeError, match="out of range"):
                write_request(register.identifier, 10**21)


def test_exception_and_malformed_responses() -> None:
    block = read_blocks()[0]
    function = READ_FUNCTION[block.table]
    with pytest.raises(ModbusError, match="illegal data address") as caught:
        parse_read_response(block, bytes([function | 0x80, 2]))
    assert caught.value.exception_code == 2
    with pytest.raises(ModbusError):
        parse_read_response(block, bytes([function, 0]))
    with pytest.raises(ModbusError):
        check_rtu_frame(bytes.fromhex(READS[0][4][:-2] + "00"))


class FakeDevice(socketserver.ThreadingTCPServer):
    """A loopback Modbus TCP device holding the golden values (answers FC1-6 and FC16)."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), DeviceHandler)
        self.tables: dict[str, dict[int, int]] = {}
        for identifier, _value, words in VALUES:
            register = BY_IDENTIFIER[identifier]
            table = self.tables.setdefault(register.table, {})
            table.update((register.address + i, w) for i, w in enumerate(words_of(words)))

    def answer(self, pdu: bytes) -> bytes:
        function, address = pdu[0], int.from_bytes(pdu[1:3], "big")
        tables = {1: "coil", 2: "discrete", 3: "holding", 4: "input", 5: "coil", 6: "holding",
                  16: "holding"}
        table = self.tables.get(tables.get(function, ""), {})
        count = int.from_bytes(pdu[3:5], "big") if function in (1, 2, 3, 4, 16) else 1
        if function not in tables:
            return bytes([function | 0x80, 1])
        if any(address + i not in table for i in range(count)):
            return bytes([function | 0x80, 2])
        if function in (1, 2):
            bits = bytearray((count + 7) // 8)
            for i in range(count):
                bits[i // 8] |= table[address + i] << (i % 8)
            return bytes([function, len(bits)]) + bytes(bits)
        if function in (3, 4):
            data = b"".join(table[address + i].to_bytes(2, "big") for i in range(count))
            return bytes([function, len(data)]) + data
        if function == 5:
            table[address] = 1 if pdu[3:5] == b"\xff\x00" else 0
        elif function == 6:
            table[address] = int.from_bytes(pdu[3:5], "big")
        else:
            for i in range(count):
                table[address + i] = int.from_bytes(pdu[6 + 2 * i:8 + 2 * i], "big")
        return pdu[:5]


class DeviceHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        connection: socket.socket = self.request
        while header := connection.recv(7, socket.MSG_WAITALL):
            body = connection.recv(int.from_bytes(header[4:6], "big") - 1, socket.MSG_WAITALL)
            reply = self.server.answer(body)
            connection.sendall(tcp_frame(int.from_bytes(header[:2], "big"), header[6], reply))


@pytest.fixture
def device():
    server = FakeDevice()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_read_all_and_write_over_tcp(device: FakeDevice) -> None:
    port = device.server_address[1]
    assert read_all("127.0.0.1", port) == {identifier: value for identifier, value, _ in VALUES}
    with ModbusTcpClient("127.0.0.1", port) as client:
        for identifier, value, _pdu, _rtu in WRITES:
            client.write(identifier, value)
        values = client.read_all()
    for identifier, value, _pdu, _rtu in WRITES:
        assert values[identifier] == value
