"""Thing-model building blocks: units, identifiers, dedupe, specs sanity, and the extractor
on HTML/CSV/loader tables and on prose."""

from __future__ import annotations

import pytest

from maas.knowledge.loaders import Block
from maas.toolbox.thingmodel.datasheet import extract_from_blocks, extract_thing_model
from maas.toolbox.thingmodel.normalise import identifier_from_name, normalise_draft
from maas.toolbox.thingmodel.schema import parse_thing_model
from maas.toolbox.thingmodel.units import UnitCatalogue, normalise_unit
from maas.toolbox.thingmodel.values import find_enum, find_ranges


@pytest.mark.parametrize(("text", "symbol"), [
    ("摄氏度", "°C"), ("℃", "°C"), ("degC", "°C"), ("deg C", "°C"), ("°C", "°C"),
    ("rpm", "r/min"), ("r/min", "r/min"), ("转/分", "r/min"), ("kW", "kW"), ("千瓦", "kW"),
    ("%RH", "%RH"), ("% RH", "%RH"), ("bar", "bar"), ("MPa", "MPa"), ("兆帕", "MPa"),
    ("A", "A"), ("V", "V"), ("Hz", "Hz"), ("赫兹", "Hz"), ("Nm", "N·m"), ("N·m", "N·m"),
    ("mm", "mm"), ("um", "μm"), ("µm", "μm"), ("m/s", "m/s"), ("m3/h", "m³/h"),
    ("L/min", "L/min"), ("kWh", "kWh"), ("千瓦时", "kWh"), ("s", "s"), ("ms", "ms"),
    ("min", "min"), ("h", "h"), ("小时", "h"), ("ｋＷ", "kW"), ("(Hz)", "Hz"),
])
def test_unit_aliases(text: str, symbol: str) -> None:
    assert normalise_unit(text).symbol == symbol


def test_unit_catalogue_case_and_unknowns() -> None:
    units = UnitCatalogue()
    assert units.normalise("mA").symbol == "mA" and units.normalise("MPa").symbol == "MPa"
    assert units.normalise("furlongs") is None and units.normalise("") is None
    listed = {u["symbol"]: u for u in units.list()}
    assert listed["°C"]["qudt"] == "http://qudt.org/vocab/unit/DEG_C"
    assert listed["kWh"]["tsl_unit"] == "kW·h" and listed["r/min"]["tsl_unit_name"] == "转每分钟"
    assert len(listed) == len(units.units)  # symbols are unique


@pytest.mark.parametrize(("name", "identifier"), [
    ("Output Frequency", "output_frequency"), ("OutputFrequency", "output_frequency"),
    ("输出频率", "output_frequency"), ("直流母线电压", "dc_bus_voltage"),
    ("A相电压", "phase_a_voltage"), ("输出频率 Output frequency", "output_frequency"),
    ("电机的温度", "motor_temperature"), ("3-phase voltage", "prop_3_phase_voltage"),
    ("时间", "time_prop"), ("value", "value_prop"), ("未知词语", None), ("", None),
])
def test_identifier_from_name(name: str, identifier: str | None) -> None:
    assert identifier_from_name(name) == identifier


def test_dedupe_merges_by_identifier_and_by_name_and_unit() -> None:
    doc, notes = normalise_draft({"name": "Pump", "properties": [
        {"name": "Outlet pressure", "data_type": {"type": "float", "specs": {"unit": "MPa"}}},
        {"identifier": "outlet_pressure", "name": "Pressure out", "description": "after valve",
         "data_type": {"type": "float", "specs": {"min": 0, "max": 1.6, "unit": "兆帕"}}},
        {"identifier": "p2", "name": "outlet  PRESSURE",
         "data_type": {"type": "float", "specs": {"unit": "MPa", "step": 0.01}}},
        {"name": "未知参数", "data_type": {"type": "int"}},
        {"name": "未知参数二", "data_type": {"type": "int"}},
    ]})
    props = doc["properties"]
    assert [p["identifier"] for p in props] == ["outlet_pressure", "prop_4", "prop_5"]
    assert props[0]["data_type"]["specs"] == {"unit": "MPa", "min": 0, "max": 1.6, "step": 0.01}
    assert props[0]["description"] == "after valve"
    assert sum("merged into 'outlet_pressure'" in n for n in notes) == 2
    parse_thing_model(doc)


def test_specs_edge_cases_are_repaired_with_notes() -> None:
    doc, notes = normalise_draft({"name": "X", "identifier": "Bad-ID", "properties": [
        {"name": "a", "data_type": {"type": "int", "specs": {"min": 10, "max": 0, "step": -1}}},
        {"name": "b", "data_type": {"type": "int", "specs": {"min": 0, "max": 1.5}}},
        {"name": "c", "data_type": {"type": "enum", "specs": {
            "values": {"0": "Off", "1.0": "On", "x": "Bad", "2": " "}}}},
        {"name": "d", "data_type": {"type": "enum", "specs": {"values": {"a": "b"}}}},
        {"name": "e", "data_type": {"type": "float", "specs": {"unit": "furlongs"}}},
        {"name": "f", "access": "R/W", "data_type": {"type": "uint16"}},
        {"name": "g", "data_type": {"type": "array", "specs": {"size": 4,
                                                                 "item": {"type": "bool"}}}},
    ]})
    p = {x["name"]: x for x in doc["properties"]}
    assert doc["identifier"] == "bad_id"
    assert p["a"]["data_type"] == {"type": "int", "specs": {"min": 0, "max": 10}}
    assert p["b"]["data_type"]["type"] == "float"
    assert p["c"]["data_type"]["specs"]["values"] == {"0": "Off", "1": "On"}
    assert p["d"]["data_type"] == {"type": "text", "specs": {"length": 255}}
    assert p["e"]["data_type"]["specs"] == {"unit": "furlongs"}
    assert p["f"]["access"] == "rw" and p["f"]["data_type"]["type"] == "int"
    assert p["g"]["data_type"]["specs"]["item"]["type"] == "text"
    for fragment in ("swapped", "step -1 is not > 0", "changed to float", "'x': 'Bad' dropped",
                     "not in the unit catalogue", "array of bool"):
        assert any(fragment in n for n in notes), fragment
    parse_thing_model(doc)


@pytest.mark.parametrize(("text", "expected"), [
    ("0~400 Hz", (0, 400, "Hz")), ("0-400", (0, 400, None)), ("-20 ... 85 ℃", (-20, 85, "°C")),
    ("±10 V", (-10, 10, "V")), ("-40 to 125 °C", (-40, 125, "°C")), ("4-20 mA", (4, 20, "mA")),
    ("0 ～ 3000 r/min", (0, 3000, "r/min")), ("-20~-5 deg C", (-20, -5, "°C")),
    ("0 to 1,000 kPa", (0, 1000, "kPa")),
])
def test_ranges(text: str, expected: tuple) -> None:
    found = find_ranges(text, UnitCatalogue())[0]
    assert (found.min, found.max, found.unit.symbol if found.unit else None) == expected


def test_no_range_in_dates_and_enums() -> None:
    assert find_ranges("issued 2024-05-01", UnitCatalogue()) == []
    assert find_enum("0=停止,1=运行") == {"0": "停止", "1": "运行"}
    assert find_enum("0: Stop; 1: Run; 2: Fault") == {"0": "Stop", "1": "Run", "2": "Fault"}
    assert find_enum("at 12:30") is None


HTML = """<html><body><h1>FM-10 Flow meter</h1><table>
<tr><th>Name</th><th>Min</th><th>Max</th><th>Unit</th><th>Access</th></tr>
<tr><td>Flow rate</td><td>0</td><td>120.5</td><td>m3/h</td><td>R</td></tr>
<tr><td>Totaliser reset value</td><td>0</td><td>1000</td><td>bbl</td><td>R/W</td></tr>
</table></body></html>"""


def test_html_table_with_min_max_columns() -> None:
    tm, notes = extract_thing_model(HTML)
    assert tm.name == "FM-10 Flow meter" and tm.identifier == "fm_10_flow_meter"
    flow = tm.find_property("flow_rate")
    assert flow.data_type.specs.model_dump() == {"min": 0, "max": 120.5, "unit": "m³/h"}
    assert tm.find_property("totaliser_reset_value").access == "rw"
    assert tm.find_property("totaliser_reset_value").data_type.specs.unit == "bbl"
    assert any("'bbl' is not in the unit catalogue" in n for n in notes)


def test_csv_table_with_units_in_header() -> None:
    csv_text = "Parameter,Range (°C),Resolution,R/W\nOil temperature,-10~90,0.5,R\n" \
               "Setpoint,20~60,1,RW\n"
    tm, _ = extract_thing_model(csv_text, name="Oil cooler")
    assert tm.identifier == "oil_cooler"
    assert tm.find_property("oil_temperature").data_type.model_dump(mode="json") == {
        "type": "float", "specs": {"min": -10, "max": 90, "step": 0.5, "unit": "°C"}}
    setpoint = tm.find_property("setpoint")
    assert setpoint.access == "rw" and setpoint.data_type.type == "int"


def test_loader_blocks_from_docx_or_pdf_tables() -> None:
    blocks = [Block(text="Servo drive SD-2", headings=["Servo drive SD-2"]),
              Block(header="名称 | 范围 | 单位 | 读写", rows=[
                  "电机转速 | 0~3000 | rpm | 只读", "转矩限制 | 0~300 | % | 读写",
                  "运行模式 | 0=位置,1=速度,2=转矩 | | 读写"], headings=["参数"]),
              Block(text="位置偏差 | 0~100000 | | R\n编码器分辨率 | 1~8388608 | | R",
                    headings=["参数"])]
    tm, _ = extract_from_blocks(blocks, title="Servo drive SD-2")
    assert [p.identifier for p in tm.properties] == [
        "motor_speed", "torque_limit", "run_mode", "position_deviation", "encoder_resolution"]
    assert tm.find_property("run_mode").data_type.specs.values == {
        "0": "位置", "1": "速度", "2": "转矩"}
    assert tm.find_property("motor_speed").data_type.model_dump(mode="json") == {
        "type": "int", "specs": {"min": 0, "max": 3000, "unit": "r/min"}}
    assert tm.find_property("torque_limit").access == "rw"


def test_prose_sentences() -> None:
    text = ("# Greenhouse node\n\nThe node measures temperature from -40 to 125 °C with 0.1 °C "
            "resolution and humidity 0 to 100 %RH.\nAn alarm is raised when the temperature "
            "exceeds 60 °C.\nIt supports remote start/stop and reset.\n"
            "The supply is described in another document.")
    tm, notes = extract_thing_model(text)
    temp = tm.find_property("temperature")
    assert temp.data_type.model_dump(mode="json") == {
        "type": "float", "specs": {"min": -40, "max": 125, "step": 0.1, "unit": "°C"}}
    assert tm.find_property("humidity").data_type.specs.unit == "%RH"
    assert temp.name == "Temperature" and len(tm.properties) == 2
    assert [(e.identifier, e.type, [o.identifier for o in e.output]) for e in tm.events] == [
        ("temperature_alarm", "alert", ["temperature"])]
    assert [s.identifier for s in tm.services] == ["start", "stop", "reset"]


def test_label_names_the_device_not_the_quantity() -> None:
    tm, _ = extract_thing_model("Pump P-1: outlet pressure 0 to 1.6 MPa.", name="Pump")
    assert [(p.identifier, p.data_type.specs.max, p.data_type.specs.unit)
            for p in tm.properties] == [("outlet_pressure", 1.6, "MPa")]
