"""Generated parsers against a real pymodbus Modbus TCP server on 127.0.0.1.

The server's registers are filled by an independent path - pymodbus's own
`convert_to_registers` (big/little word order) plus a hand byte swap for BADC/DCBA - from known
values; the generated package must read every field exactly (floats equal to the float32-
rounded value, scaled values equal after rounding to the scale's decimals) and write back.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import struct
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from maas.settings import REPO_ROOT
from maas.toolbox.protocol import generate_package, parse_register_map
from maas.toolbox.protocol.build import write_files
from maas.toolbox.protocol.registers import Register

pymodbus = pytest.importorskip("pymodbus")
from pymodbus.client import ModbusTcpClient  # noqa: E402
from pymodbus.client.mixin import ModbusClientMixin  # noqa: E402
from pymodbus.datastore import (  # noqa: E402
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.server import ModbusTcpServer  # noqa: E402

MAPS = REPO_ROOT / "examples" / "register_maps"
DATATYPES = ModbusClientMixin.DATATYPE
VFD_VALUES = {
    "output_frequency": 49.98, "output_current": 12.34, "output_voltage": 380.5,
    "dc_bus_voltage": 537.2, "motor_speed": -1480, "output_torque": -45.6,
    "heatsink_temperature": -7.3, "fault_code": 17, "running_hours": 123456,
    "energy_consumed": 98765.4, "frequency_setpoint": 50.0, "acceleration_time": 10.5,
    "deceleration_time": 12.0, "speed_setpoint": -750, "control_word": 0x0083,
    "max_frequency": 400.0, "current_limit": -123.45, "run_command": True, "fault_active": True,
}
POWER_VALUES = {
    "voltage_l1": 230.1, "voltage_l2": 229.87, "voltage_l3": 231.05, "current_l1": 15.2,
    "current_l2": 14.875, "current_l3": 16.3, "current_n": 0.42, "active_power": -12345,
    "reactive_power": 2345678, "apparent_power": -98765432, "active_power_demand": 10500.7,
    "power_factor": -0.985, "frequency": 50.02, "import_active_energy": 12345678.9,
    "export_active_energy": 42949672.95, "reactive_energy": 1.01, "apparent_energy": 777.77,
    "import_energy_wh": 18_000_000_000_123, "energy_balance_wh": -9_000_000_000_007,
    "energy_precise": 12345.678901234, "meter_temperature": 36.6, "ct_ratio": 200,
    "pt_ratio": 1.5, "demand_period": 15, "power_limit": 55.5,
    "energy_preset": -1_234_567_890_123, "pulse_constant": 3200, "relay_output": True,
    "voltage_offset": -0.25, "demand_limit": 123.456789,
}
WRITES = {
    "vfd-drive.csv": {"frequency_setpoint": 35.55, "speed_setpoint": -1234,
                      "max_frequency": 123.45, "current_limit": -7.5, "run_command": False},
    "power-meter.md": {"ct_ratio": 300, "pt_ratio": 2.25, "power_limit": -3.75,
                       "energy_preset": 9_876_543_210, "pulse_constant": 1_000_000,
                       "relay_output": False, "voltage_offset": 0.31, "demand_limit": 1e-3},
}


def swap_bytes(words: list[int]) -> list[int]:
    return [((w & 0xFF) << 8) | (w >> 8) for w in words]


def independent_words(register: Register, value) -> list[int]:
    """pymodbus conversion (big/little word order) and a hand byte swap (BADC, DCBA)."""
    if register.type == "bool":
        return [1 if value else 0]
    raw = value
    if register.scale != 1:
        raw = int((Decimal(str(value)) / register.scale).to_integral_value())
    words = ModbusClientMixin.convert_to_registers(
        raw, DATATYPES[register.type.upper()],
        word_order="little" if register.word_order in ("CDAB", "DCBA") else "big")
    return swap_bytes(words) if register.word_order in ("BADC", "DCBA") else words


def independent_value(register: Register, words: list[int]):
    if register.type == "bool":
        return bool(words[0])
    if register.word_order in ("BADC", "DCBA"):
        words = swap_bytes(words)
    raw = ModbusClientMixin.convert_from_registers(
        words, DATATYPES[register.type.upper()],
        word_order="little" if register.word_order in ("CDAB", "DCBA") else "big")
    return float(Decimal(raw) * register.scale) if register.scale != 1 else raw


def expected(register: Register, value):
    """What an exact reader returns: float32 rounding, scale's decimals, int stays int."""
    if register.type == "float32":
        return struct.unpack(">f", struct.pack(">f", value))[0]
    if register.scale != 1:
        return round(float(value), -register.scale.normalize().as_tuple().exponent)
    return value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Device:
    """A pymodbus TCP server in a background thread with its own event loop."""

    def __init__(self, tables: dict[str, dict[int, int]]) -> None:
        def block(table: str, bits: bool = False) -> ModbusSequentialDataBlock:
            cells = tables.get(table, {})
            size = max(cells, default=0) + 2
            values = [cells.get(i, 0) for i in range(size)]
            # Sequential blocks are 1-based: block address 1 is protocol address 0.
            return ModbusSequentialDataBlock(1, [bool(v) for v in values] if bits else values)

        self.context = ModbusDeviceContext(hr=block("holding"), ir=block("input"),
                                           co=block("coil", True), di=block("discrete", True))
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: ModbusTcpServer | None = None
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(),),
                                       daemon=True)

    async def _serve(self) -> None:
        context = ModbusServerContext(devices=self.context, single=True)
        self.server = ModbusTcpServer(context, address=("127.0.0.1", self.port))
        await self.server.serve_forever()

    def __enter__(self) -> Device:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pymodbus server did not start")

    def __exit__(self, *exc_info: object) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(10)
        self.thread.join(10)


@pytest.mark.parametrize(("filename", "values"), [("vfd-drive.csv", VFD_VALUES),
                                                  ("power-meter.md", POWER_VALUES)])
def test_generated_parser_reads_and_writes_a_pymodbus_server(
        filename: str, values: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_map = parse_register_map((MAPS / filename).read_bytes(), filename=filename)
    registers = {r.identifier: r for r in register_map.registers}
    assert set(values) == set(registers)
    package = filename.split(".")[0].replace("-", "_") + "_parser"
    write_files(generate_package(register_map, package=package), tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    client_module = importlib.import_module(f"{package}.client")

    tables: dict[str, dict[int, int]] = {}
    for identifier, value in values.items():
        register = registers[identifier]
        words = independent_words(register, value)
        tables.setdefault(register.table, {}).update(
            (register.address + i, w) for i, w in enumerate(words))
    if filename == "power-meter.md":  # the meter's map has all four word orders
        assert {r.word_order for r in register_map.registers if r.count > 1} == {
            "ABCD", "CDAB", "BADC", "DCBA"}

    with Device(tables) as device:
        read = client_module.read_all("127.0.0.1", device.port, unit_id=1, timeout=5)
        wanted = {k: expected(registers[k], v) for k, v in values.items()}
        wrong = {k: (read[k], wanted[k]) for k in wanted if read[k] != wanted[k]
                 or type(read[k]) is not type(wanted[k])}
        assert wrong == {}, wrong  # 100% field accuracy, word orders included

        writes = WRITES[filename]
        with client_module.ModbusTcpClient("127.0.0.1", device.port, timeout=5) as client:
            for identifier, value in writes.items():
                client.write(identifier, value)
        checker = ModbusTcpClient("127.0.0.1", port=device.port)
        assert checker.connect()
        try:
            for identifier, value in writes.items():
                register = registers[identifier]
                if register.table == "coil":
                    words = checker.read_coils(register.address, count=1).bits[:1]
                else:
                    words = checker.read_holding_registers(register.address,
                                                           count=register.count).registers
                got = independent_value(register, list(words))
                assert got == expected(register, value), identifier
        finally:
            checker.close()
        after = client_module.read_all("127.0.0.1", device.port, timeout=5)
        for identifier, value in writes.items():
            assert after[identifier] == expected(registers[identifier], value), identifier
    sys.modules.pop(package, None)
