"""Register maps: every format parses, conventions hold, every error names its row."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from maas.settings import REPO_ROOT
from maas.toolbox.protocol import (
    RegisterMapError,
    parse_register_map,
    properties_from_register_map,
    register_map_from_thing_model,
)
from maas.toolbox.protocol.errors import MAX_REPORTED

EXAMPLES = REPO_ROOT / "examples" / "register_maps"
HEADER = "address,name,identifier,type,word_order,scale,unit,access\n"


def errors_of(content: str, filename: str = "map.csv") -> list[str]:
    with pytest.raises(RegisterMapError) as caught:
        parse_register_map(content, filename=filename)
    return [str(error) for error in caught.value.errors]


def test_shipped_csv_uses_modicon_references() -> None:
    registers = {r.identifier: r for r in parse_register_map(
        (EXAMPLES / "vfd-drive.csv").read_bytes(), filename="vfd-drive.csv").registers}
    assert len(registers) == 19
    frequency = registers["output_frequency"]
    assert (frequency.table, frequency.address, frequency.type, frequency.scale,
            frequency.unit, frequency.access, frequency.row) == (
        "input", 0, "uint16", Decimal("0.01"), "Hz", "r", 4)
    assert (registers["energy_consumed"].address, registers["energy_consumed"].word_order) == (
        10, "CDAB")
    assert (registers["frequency_setpoint"].table, registers["frequency_setpoint"].access) == (
        "holding", "rw")
    assert (registers["run_command"].table, registers["fault_active"].table) == (
        "coil", "discrete")


def test_shipped_markdown_covers_every_type_and_word_order() -> None:
    power = parse_register_map((EXAMPLES / "power-meter.md").read_text("utf-8"),
                               filename="power-meter.md")
    vfd = parse_register_map((EXAMPLES / "vfd-drive.csv").read_bytes(), filename="vfd-drive.csv")
    registers = power.registers + vfd.registers
    assert {r.type for r in registers} == {"bool", "int16", "uint16", "int32", "uint32",
                                           "float32", "int64", "uint64", "float64"}
    for type_name in ("int32", "uint32", "float32"):
        orders = {r.word_order for r in registers if r.type == type_name}
        assert orders == {"ABCD", "CDAB", "BADC", "DCBA"}, type_name
    current = next(r for r in power.registers if r.identifier == "current_l1")
    assert (current.table, current.address, current.row) == ("input", 6, 12)
    assert {r.table for r in power.registers} == {"input", "holding"}


def test_xlsx_with_chinese_headers_and_derived_identifiers() -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["# 变频器寄存器表"])  # a comment row above the header
    sheet.append(["地址", "名称", "数据类型", "字序", "倍率", "单位", "读写"])
    sheet.append([40001, "输出频率", "uint16", None, 0.01, "Hz", "只读"])
    sheet.append([40002, "Motor Speed", "int32", "CDAB", 1, "rpm", "读写"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    registers = parse_register_map(buffer.getvalue(), filename="map.xlsx").registers
    assert [(r.identifier, r.name, r.address, r.type, r.word_order, r.scale, r.access, r.row)
            for r in registers] == [
        ("reg_0", "输出频率", 0, "uint16", "ABCD", Decimal("0.01"), "r", 3),
        ("motor_speed", "Motor Speed", 1, "int32", "CDAB", Decimal(1), "rw", 4)]


def test_address_conventions_and_base_directive() -> None:
    content = ("address,name,type,table\n0x0010,a,uint16,input\n200,b,uint16,\n"
               "300005,c,uint16,\n40100,d,uint16,holding\n")
    registers = parse_register_map(content, filename="m.csv").registers
    assert [(r.table, r.address) for r in registers] == [
        ("input", 16), ("holding", 200), ("input", 4), ("holding", 99)]
    based = parse_register_map("base: 1\n" + content, filename="m.csv").registers
    assert [(r.table, r.address) for r in based] == [
        ("input", 15), ("holding", 199), ("input", 4), ("holding", 99)]


def test_word_order_synonyms() -> None:
    orders = ["big", "little", "high-low", "low-high", "BADC", "", "Word-Swapped", "小端"]
    rows = "".join(f"{2 * i},v{i},float32,{order}\n" for i, order in enumerate(orders))
    registers = parse_register_map("address,name,type,word order\n" + rows,
                                   filename="m.csv").registers
    assert [r.word_order for r in registers] == ["ABCD", "DCBA", "ABCD", "CDAB", "BADC",
                                                 "ABCD", "CDAB", "DCBA"]


FILLER = "".join(f"{40001 + i},Filler {i},filler_{i},uint16,,,,r\n" for i in range(6))


def test_overlap_names_both_rows() -> None:
    content = HEADER + FILLER + ("40011,Current L3,current_l3,uint16,,0.01,A,r\n"
                                 "40011,Active power,active_power,int32,CDAB,,W,r\n")
    assert errors_of(content) == [
        'row 9: address 40011 (int32 "active_power", registers 10-11) overlaps row 8 '
        '"current_l3" (register 10)']


def test_each_error_names_row_column_and_value() -> None:
    content = HEADER + FILLER + (
        "40020,Power,power,int24,,,,r\n"          # row 8
        "40021,Energy,energy,uint32,,x0.1,kWh,r\n"  # row 9
        "40023,Mode,mode,uint16,middle,,,r\n"       # row 10
        "40024,Speed,speed,uint16,,,,maybe\n"       # row 11
        "30001,Temp,temp,int16,,,,rw\n"             # row 12
        "abc,Bad,bad,uint16,,,,r\n"                 # row 13
        "40025,Again,filler_0,uint16,,,,r\n"        # row 14
        "40026,Bad Id,Bad-Id,uint16,,,,r\n"         # row 15
        "70001,Far,far,uint16,,0,,r\n"              # row 16
    )
    errors = errors_of(content)
    assert errors[0] == ('row 8: type "int24" is not supported; use one of bool, int16, '
                         "uint16, int32, uint32, float32, int64, uint64, float64")
    assert errors[1] == 'row 9: scale "x0.1" is not a number'
    assert errors[2].startswith('row 10: word order "middle" is unknown; use ABCD')
    assert errors[3] == 'row 11: access "maybe" is unknown; use r, rw or w'
    assert errors[4] == "row 12: input registers are read-only; access must be r"
    assert errors[5].startswith('row 13: address "abc" is not a number')
    assert errors[6] == 'row 14: duplicate identifier "filler_0" (already used on row 2)'
    assert errors[7].startswith('row 15: identifier "Bad-Id" is invalid')
    assert errors[8:] == ["row 16: address 70001 is outside 0-65535 (base 0)",
                          "row 16: scale must not be 0"]
    with pytest.raises(RegisterMapError) as caught:
        parse_register_map(content, filename="map.csv")
    message = str(caught.value)
    assert message.startswith("register map has 10 problems:") and "row 13" in message


def test_structural_errors() -> None:
    assert errors_of("address,name\n1,a\n") == [
        "row 1: missing required column \"type\" (header is 'address', 'name')"]
    assert errors_of("address,name,type\n") == [
        "the register map is empty: a header but no rows"]
    assert errors_of("") == ["the register map is empty: no header row found"]
    assert errors_of("# title only\n| a |\n", filename="m.md")[0].startswith(
        "no Markdown pipe table found")
    assert errors_of("x", filename="map.pdf")[0].startswith("unsupported file type")
    assert errors_of("address,name,type,table\n40001,a,uint16,input\n")[0] == (
        'row 2: table "input" contradicts address 40001 (a Modicon holding register reference)')
    assert errors_of("address,name,type\n00001,a,uint16\n")[0] == (
        'row 2: type "uint16" cannot live in the coil table (bits): use bool')
    assert errors_of("address,name,type\n65535,a,uint32\n")[0] == (
        "row 2: address 65535 (uint32) runs past register 65535")


def test_many_errors_are_capped_in_the_message() -> None:
    rows = "".join(f"{i},n{i},int24\n" for i in range(80))
    with pytest.raises(RegisterMapError) as caught:
        parse_register_map("address,name,type\n" + rows, filename="m.csv")
    assert len(caught.value.errors) >= MAX_REPORTED
    assert str(caught.value).count("\n- row") == MAX_REPORTED


def test_thing_model_round_trip() -> None:
    vfd = parse_register_map((EXAMPLES / "vfd-drive.csv").read_bytes(), filename="vfd-drive.csv")
    properties = {p["identifier"]: p for p in properties_from_register_map(vfd)}
    assert properties["output_frequency"] == {
        "identifier": "output_frequency", "name": "Output frequency",
        "description": "Actual output frequency", "access": "r",
        "data_type": {"type": "float", "specs": {"min": 0, "max": 655.35, "step": 0.01,
                                                 "unit": "Hz"}}}
    assert properties["fault_code"]["data_type"] == {
        "type": "int", "specs": {"min": 0, "max": 65535}}
    assert properties["run_command"]["data_type"]["type"] == "bool"
    assert properties["speed_setpoint"]["access"] == "rw"
    doc = {"identifier": "pump", "properties": [
        {"identifier": "flow", "name": "Flow", "access": "r",
         "data_type": {"type": "float", "specs": {"unit": "m3/h"}}},
        {"identifier": "state", "access": "r",
         "data_type": {"type": "enum", "specs": {"values": {"0": "Off", "1": "On"}}}},
        {"identifier": "speed", "access": "rw",
         "data_type": {"type": "int", "specs": {"min": -3000, "max": 3000}}},
        {"identifier": "total", "access": "r",
         "data_type": {"type": "int", "specs": {"min": 0, "max": 4000000000}}},
        {"identifier": "label", "data_type": {"type": "text", "specs": {"length": 20}}},
        {"identifier": "running", "access": "rw", "data_type": {"type": "bool", "specs": {}}},
    ]}
    mapped = register_map_from_thing_model(doc, start_address=100)
    assert [(r.identifier, r.address, r.type, r.access) for r in mapped.registers] == [
        ("flow", 100, "float32", "r"), ("state", 102, "uint16", "r"),
        ("speed", 103, "int16", "rw"), ("total", 104, "uint32", "r"),
        ("running", 106, "bool", "rw")]
    doc["properties"].append({"identifier": "flow", "data_type": {"type": "int"}})
    with pytest.raises(RegisterMapError, match='row 7: duplicate property identifier "flow"'):
        register_map_from_thing_model(doc)


def test_example_folders_have_readmes() -> None:
    for folder in (EXAMPLES, EXAMPLES.parent / "frames"):
        assert (folder / "README.md").is_file(), folder
