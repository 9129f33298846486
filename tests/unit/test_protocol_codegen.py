"""The reference codec against known frames, frame-spec errors, and the generated packages
(built and tested in the sandbox, ruff-clean, deterministic, injection-proof)."""

from __future__ import annotations

import struct
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from maas.settings import REPO_ROOT
from maas.toolbox.protocol import (
    CodegenError,
    FrameSpecError,
    RegisterMapError,
    build_parser,
    generate_package,
    parse_frame_spec,
    parse_register_map,
)
from maas.toolbox.protocol import reference as ref
from maas.toolbox.protocol.registers import Register

EXAMPLES = REPO_ROOT / "examples"
SHIPPED = [("register_maps/vfd-drive.csv", "vfd_drive"),
           ("register_maps/power-meter.md", "power_meter"),
           ("frames/sensor-frame.yaml", "sensor_frame")]
RUFF = Path(sys.executable).parent / "ruff"


def load(relative: str):
    path = EXAMPLES / relative
    if path.suffix == ".yaml":
        return parse_frame_spec(path.read_bytes(), filename=path.name)
    return parse_register_map(path.read_bytes(), filename=path.name)


def register(type_name: str, word_order: str = "ABCD", scale: str = "1", **extra) -> Register:
    return Register(row=2, address=extra.pop("address", 1), table=extra.pop("table", "holding"),
                    identifier="x", name="x", type=type_name, word_order=word_order,
                    scale=Decimal(scale), **extra)


@pytest.mark.parametrize(("data", "crc"), [
    ("01030000000a", "c5cd"), ("010300000001", "840a"), ("1103006b0003", "7687")])
def test_crc16_modbus_known_frames(data: str, crc: str) -> None:
    assert ref.crc16_modbus(bytes.fromhex(data)).to_bytes(2, "little").hex() == crc


@pytest.mark.parametrize(("type_name", "value", "orders"), [
    ("float32", 1.0, {"ABCD": [0x3F80, 0], "CDAB": [0, 0x3F80], "BADC": [0x803F, 0],
                      "DCBA": [0, 0x803F]}),
    ("int32", 0x12345678, {"ABCD": [0x1234, 0x5678], "CDAB": [0x5678, 0x1234],
                           "BADC": [0x3412, 0x7856], "DCBA": [0x7856, 0x3412]}),
    ("int32", -2, {"ABCD": [0xFFFF, 0xFFFE], "CDAB": [0xFFFE, 0xFFFF],
                   "BADC": [0xFFFF, 0xFEFF], "DCBA": [0xFEFF, 0xFFFF]}),
    ("uint64", 0x0102030405060708, {"ABCD": [0x0102, 0x0304, 0x0506, 0x0708],
                                    "CDAB": [0x0708, 0x0506, 0x0304, 0x0102],
                                    "DCBA": [0x0807, 0x0605, 0x0403, 0x0201]}),
])
def test_word_orders_known_values(type_name: str, value, orders: dict) -> None:
    for order, words in orders.items():
        reg = register(type_name, order)
        assert ref.register_words(reg, value) == words, order
        assert ref.register_value(reg, words) == value, order


def test_scaling_is_exact_and_range_checked() -> None:
    reg = register("uint16", scale="0.01")
    assert ref.register_words(reg, 12.34) == [0x04D2]
    assert ref.register_value(reg, [0x04D2]) == 12.34
    assert ref.register_value(register("int16", scale="0.1"), [0xFF85]) == -12.3
    with pytest.raises(ValueError, match="out of range"):
        ref.register_words(reg, 655.36)
    with pytest.raises(ValueError, match="out of range"):
        ref.register_words(register("uint16"), -1)


def test_request_frames_match_the_modbus_specification() -> None:
    read = ref.read_pdu("holding", 0x6B, 3)
    assert ref.tcp_adu(1, 0x11, read).hex() == "0001000000061103006b0003"
    assert ref.rtu_adu(0x11, read).hex() == "1103006b00037687"
    assert ref.write_pdu(register("uint16", address=1), 3).hex() == "0600010003"
    two = register("uint32", address=1)
    assert ref.write_pdu(two, 0x000A0102).hex() == "10000100020400" "0a0102"
    coil = register("bool", table="coil", address=0xAC)
    assert ref.write_pdu(coil, True).hex() == "0500acff00"


def test_read_blocks_are_contiguous_and_capped() -> None:
    vfd = load("register_maps/vfd-drive.csv")
    assert ref.read_blocks(vfd) == [("holding", 0, 9), ("input", 0, 12), ("coil", 0, 1),
                                    ("discrete", 0, 1)]
    many = parse_register_map("address,name,type\n" + "".join(
        f"{i * 2},r{i},uint32\n" for i in range(100)), filename="m.csv")
    assert ref.read_blocks(many) == [("holding", 0, 124), ("holding", 124, 76)]


def test_sensor_frame_decodes_a_hand_built_frame() -> None:
    spec = load("frames/sensor-frame.yaml")
    body = bytes.fromhex("aa55" "01" "00012345" "0201" "ff85" "11d7" "e40c" "83"
                         "00507d44" "ba" "12")
    frame = body + ref.crc16_modbus(body).to_bytes(2, "little")
    assert ref.decode_frame(spec, frame) == {
        "frame_version": 1, "device_id": 0x12345, "sequence": 0x0102, "temperature": -12.3,
        "humidity": 45.67, "battery_voltage": 3.3, "low_battery": True, "sensor_fault": True,
        "tamper_alarm": True, "pressure": 1013.25, "rssi": -70, "firmware_version": 12}
    assert ref.encode_frame(spec, ref.decode_frame(spec, frame)) == frame
    assert struct.unpack("<f", bytes.fromhex("00507d44"))[0] == 1013.25


FRAME_BASE = "identifier: f\nlength: 8\nheader: 'AA'\n"


@pytest.mark.parametrize(("fields", "message"), [
    ("- {identifier: a, offset: 1, type: uint16}\n- {identifier: b, offset: 2, type: uint8}",
     'field 2 "b": bytes 2-2 overlap field 1 "a" (bytes 1-2)'),
    ("- {identifier: a, offset: 7, type: uint16}",
     'field 1 "a": bytes 7-8 are beyond the frame length 8'),
    ("- {identifier: a, offset: 1, length: 3, type: uint16}",
     'field 1 "a": length 3 does not match type uint16 (2 bytes)'),
    ("- {identifier: a, offset: 1, type: int24}",
     'field 1 "a": type "int24" is not supported; use one of uint8'),
    ("- {identifier: a, offset: 0, type: uint8}",
     'field 1 "a": bytes 0-0 overlap header (bytes 0-0)'),
    ("- {identifier: Bad, offset: 1, type: uint8}", 'field 1 "Bad": identifier \'Bad\''),
    ("- {identifier: a, offset: 1, type: uint8, scale: x}",
     'field 1 "a": scale \'x\' is not a non-zero number'),
])
def test_frame_spec_errors_name_the_field(fields: str, message: str) -> None:
    with pytest.raises(FrameSpecError) as caught:
        parse_frame_spec(FRAME_BASE + "fields:\n" + fields)
    assert any(str(e).startswith(message) for e in caught.value.errors), caught.value.errors


def test_frame_checksum_errors() -> None:
    spec = FRAME_BASE + "fields:\n- {identifier: a, offset: 1, type: uint8}\n"
    for checksum, message in [
        ("{type: crc32}", 'checksum: type "crc32" is not supported'),
        ("{type: sum8, covers: [0, 8], offset: 7}", "checksum: covers [0, 8) includes"),
        ("{type: crc16-modbus, covers: [0, 6], offset: 7}", "checksum: offset 7 + 2 bytes"),
    ]:
        with pytest.raises(FrameSpecError) as caught:
            parse_frame_spec(spec + f"checksum: {checksum}\n")
        assert any(str(e).startswith(message) for e in caught.value.errors), caught.value.errors


@pytest.mark.parametrize(("relative", "package"), SHIPPED)
def test_shipped_examples_pass_their_own_tests_in_the_sandbox(relative: str, package: str,
                                                                tmp_path: Path) -> None:
    build = build_parser(load(relative), package=package, workdir=tmp_path / package)
    assert build.passed, build.test_output
    assert build.test.isolation in ("bubblewrap", "rlimits")
    assert " passed" in build.test.stdout and "failed" not in build.test.stdout
    if RUFF.exists():
        lint = subprocess.run([str(RUFF), "check", "--no-cache", str(tmp_path / package)],
                              capture_output=True, text=True, cwd=tmp_path / package)
        assert lint.returncode == 0, lint.stdout
    again = build_parser(load(relative), package=package, workdir=tmp_path / "again",
                         run_tests=False)
    assert again.files == build.files and again.zip_bytes == build.zip_bytes


def test_a_broken_package_fails_in_the_sandbox_and_shows_why(tmp_path: Path) -> None:
    spec = load("register_maps/vfd-drive.csv")
    build = build_parser(spec, package="vfd", workdir=tmp_path / "vfd", run_tests=False)
    codec = tmp_path / "vfd" / "vfd" / "codec.py"
    codec.write_text(codec.read_text().replace('if word_order == "CDAB"', 'if word_order == "X"'))
    from maas.toolbox.sandbox import run_sandboxed

    result = run_sandboxed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           workdir=tmp_path / "vfd", timeout=60, cpu_seconds=60, memory_mb=1024,
                           env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert not result.ok and "energy_consumed" in result.stdout
    assert build.test is None and not build.passed


def test_user_text_never_becomes_code(tmp_path: Path) -> None:
    evil = "x'''\"\"\"); import os; os.system('echo pwned') #\n|"
    quoted = '"' + evil.replace('"', '""') + '"'
    spec = parse_register_map(f"address,name,type,unit\n40001,{quoted},uint16,{quoted}\n",
                              filename="m.csv")
    assert spec.registers[0].name == spec.registers[0].unit == evil
    assert spec.registers[0].identifier == "x_import_os_os_system_echo_pwned"
    build = build_parser(spec, package="evil_map", workdir=tmp_path / "evil")
    assert build.passed, build.test_output
    table = build.files["evil_map/registermap.py"]
    assert "import os" not in table.replace(repr(evil), "")
    assert "pwned" not in build.test.stdout


@pytest.mark.parametrize("package", ["Bad", "os", "class", "golden", "a-b", "x" * 70])
def test_package_names_are_validated(package: str) -> None:
    with pytest.raises(CodegenError, match="package name"):
        generate_package(load("register_maps/vfd-drive.csv"), package=package)


def test_thing_model_link_requires_matching_properties() -> None:
    spec = load("register_maps/vfd-drive.csv")
    model = {"identifier": "vfd", "properties": [
        {"identifier": r.identifier} for r in spec.registers if r.identifier != "fault_code"]}
    with pytest.raises(RegisterMapError, match='row 11: identifier "fault_code" is not a '
                                               'property of thing model "vfd"'):
        generate_package(spec, package="vfd", thing_model=model)
    model["properties"].append({"identifier": "fault_code"})
    files = generate_package(spec, package="vfd", thing_model=model)
    assert "THING_MODEL = 'vfd'" in files["vfd/registermap.py"]
