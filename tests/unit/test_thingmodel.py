"""Thing-model generator: shipped examples -> valid platform/TSL/WoT documents whatever the
model does; exact datasheet values; schema negatives; units; identifiers; diff."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from maas.settings import REPO_ROOT
from maas.toolbox.thingmodel.datasheet import extract_thing_model
from maas.toolbox.thingmodel.diff import Change, diff_thing_models, format_diff
from maas.toolbox.thingmodel.generate import generate_thing_model
from maas.toolbox.thingmodel.schema import ThingModel, ThingModelError, parse_thing_model
from maas.toolbox.thingmodel.tsl import to_tsl
from maas.toolbox.thingmodel.validate import validate_platform, validate_tsl, validate_wot
from maas.toolbox.thingmodel.wot import to_wot

EXAMPLES = REPO_ROOT / "examples" / "thing_models"
SHIPPED = ["vfd-drive.zh.md", "th-sensor.en.md", "cnc-spindle.en.md",
           "datasheet-power-meter.md"]


def chat(content: str | None, finish: str = "stop") -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": finish,
         "message": {"role": "assistant", "content": content}}]}


async def garbage_call(payload: dict[str, Any]) -> dict[str, Any]:
    return chat('{"name": "VFD", "properties": [{"identifier": 7, "type": "blob", "min": "x",'
                ' "unit": "furlongs"}, "nonsense"], "events": "no", "services": [{}]')


async def raising_call(payload: dict[str, Any]) -> dict[str, Any]:
    raise ConnectionError("engine unreachable")


def plausible(payload: dict[str, Any]) -> dict[str, Any]:
    """What a decent model answers: re-lists a known property with a description, invents a
    range (must be dropped), adds a property, an event and a service."""
    return chat(json.dumps({
        "name": "Device", "description": "An industrial device.",
        "properties": [
            {"identifier": "output_frequency", "name": "Output frequency",
             "description": "Frequency at the motor terminals.", "type": "float", "unit": "Hz",
             "min": 0, "max": 999, "step": 0.01, "access": "r", "enum_labels": []},
            {"identifier": "Operating Hours", "name": "Operating hours", "description": "",
             "type": "int", "unit": "hours", "min": 0, "max": 123456789, "step": None,
             "access": "r", "enum_labels": []},
            {"identifier": "mode", "name": "Mode", "description": "", "type": "enum",
             "unit": "", "min": None, "max": None, "step": None, "access": "rw",
             "enum_labels": ["Local", "Remote"]}],
        "events": [{"identifier": "maintenance_due", "name": "Maintenance due",
                    "description": "", "type": "info", "outputs": ["operating_hours", "nope"]}],
        "services": [{"identifier": "self_test", "name": "Self test", "description": "",
                      "call_type": "async", "inputs": [], "outputs": ["mode"]}]}))


async def plausible_call(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["response_format"]["type"] == "json_schema"
    assert payload["response_format"]["json_schema"]["strict"] is True
    return plausible(payload)


def assert_all_valid(tm: ThingModel) -> None:
    assert validate_platform(tm.model_dump(mode="json")) == []
    assert validate_tsl(to_tsl(tm)) == []
    assert validate_wot(to_wot(tm)) == []


@pytest.mark.parametrize("example", SHIPPED)
@pytest.mark.parametrize("call", [garbage_call, plausible_call, raising_call])
async def test_shipped_examples_validate_whatever_the_model_does(example: str, call) -> None:
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    result = await generate_thing_model(text, call=call, model="smollm2-135m-instruct")
    assert_all_valid(result.thing_model)
    extracted, _ = extract_thing_model(text)
    # the extractor's reading survives every model behaviour
    for prop in extracted.properties:
        got = result.thing_model.find_property(prop.identifier)
        assert (got.name, got.access, got.data_type) == (prop.name, prop.access, prop.data_type)
    assert len(extracted.properties) >= 9 and extracted.events
    if call is raising_call:
        assert any("model call failed" in n for n in result.notes)
        assert result.thing_model == extracted and not result.proposal_valid
    if call is garbage_call:
        assert result.thing_model.properties == extracted.properties
        assert not result.proposal_valid


async def test_plausible_proposal_is_merged_but_grounded() -> None:
    text = (EXAMPLES / "vfd-drive.zh.md").read_text(encoding="utf-8")
    result = await generate_thing_model(text, call=plausible_call, model="m")
    tm = result.thing_model
    assert result.proposal_valid
    freq = tm.find_property("output_frequency")
    assert freq.data_type.specs.max == 400  # the extractor's number, not the model's 999
    assert freq.description == "Frequency at the motor terminals."
    hours = tm.find_property("operating_hours")
    assert hours.data_type.specs.model_dump() == {"min": 0, "unit": "h"}  # 0 is in the text
    assert any("123456789 is not in the source text" in n for n in result.notes)
    assert tm.find_property("mode").data_type.specs.values == {"0": "Local", "1": "Remote"}
    event = next(e for e in tm.events if e.identifier == "maintenance_due")
    assert [p.identifier for p in event.output] == ["operating_hours"]
    assert [p.identifier for p in tm.services[-1].output] == ["mode"]
    assert tm.name == "VFD-300 通用变频器"


async def test_unparseable_and_truncated_answers_fall_back_to_extraction() -> None:
    text = (EXAMPLES / "th-sensor.en.md").read_text(encoding="utf-8")
    extracted, _ = extract_thing_model(text)

    async def truncated(payload: dict[str, Any]) -> dict[str, Any]:
        return chat('{"name": "TH", "properties": [{"identifier": "temp', finish="length")

    result = await generate_thing_model(text, call=truncated, model="m")
    assert result.thing_model == extracted
    assert any("cut off" in n for n in result.notes)


def datasheet() -> ThingModel:
    tm, _ = extract_thing_model((EXAMPLES / "datasheet-power-meter.md").read_text("utf-8"))
    return tm


def test_datasheet_table_values_are_exact() -> None:
    tm = datasheet()
    got = {p.identifier: (p.data_type.type, p.access, p.data_type.specs.model_dump(mode="json"))
           for p in tm.properties}
    assert got == {
        "phase_a_voltage": ("float", "r", {"min": 0, "max": 1000, "step": 0.1, "unit": "V"}),
        "phase_b_voltage": ("float", "r", {"min": 0, "max": 1000, "step": 0.1, "unit": "V"}),
        "phase_c_voltage": ("float", "r", {"min": 0, "max": 1000, "step": 0.1, "unit": "V"}),
        "phase_a_current": ("float", "r", {"min": 0, "max": 6000, "step": 0.001, "unit": "A"}),
        "phase_b_current": ("float", "r", {"min": 0, "max": 6000, "step": 0.001, "unit": "A"}),
        "phase_c_current": ("float", "r", {"min": 0, "max": 6000, "step": 0.001, "unit": "A"}),
        "total_active_power": ("float", "r",
                               {"min": -99999, "max": 99999, "step": 0.001, "unit": "kW"}),
        "total_reactive_power": ("float", "r",
                                 {"min": -99999, "max": 99999, "step": 0.001, "unit": "kvar"}),
        "total_apparent_power": ("float", "r",
                                 {"min": 0, "max": 99999, "step": 0.001, "unit": "kVA"}),
        "total_power_factor": ("float", "r", {"min": -1, "max": 1, "step": 0.001}),
        "frequency": ("float", "r", {"min": 45, "max": 65, "step": 0.01, "unit": "Hz"}),
        "forward_active_energy": ("double", "r",
                                  {"min": 0, "max": 99999999.9, "step": 0.1, "unit": "kWh"}),
        "reverse_active_energy": ("double", "r",
                                  {"min": 0, "max": 99999999.9, "step": 0.1, "unit": "kWh"}),
        "modbus_address": ("int", "rw", {"min": 1, "max": 247, "step": 1}),
        "baud_rate": ("enum", "rw", {"values": {"0": "2400 bps", "1": "4800 bps",
                                                "2": "9600 bps", "3": "19200 bps"}}),
        "wiring_mode": ("enum", "rw", {"values": {"0": "三相四线", "1": "三相三线"}}),
        "ct_ratio": ("int", "rw", {"min": 1, "max": 9999, "step": 1}),
        "relay_output": ("bool", "rw", {"true": "闭合", "false": "断开"}),
        "serial_number": ("text", "r", {"length": 16}),
    }
    assert [(e.identifier, e.type) for e in tm.events] == [
        ("overvoltage_alarm", "alert"), ("undervoltage_alarm", "alert"),
        ("phase_loss_fault", "error"), ("energy_reset_record", "info")]
    assert tm.identifier == "pm_3300" and tm.name == "PM-3300 三相多功能电力仪表"


def test_datasheet_tsl_and_wot_spell_specs_their_way() -> None:
    tm = datasheet()
    tsl = to_tsl(tm)
    by_id = {p["identifier"]: p for p in tsl["properties"]}
    assert by_id["phase_a_current"]["dataType"] == {"type": "float", "specs": {
        "min": "0", "max": "6000", "step": "0.001", "unit": "A", "unitName": "安培"}}
    assert by_id["forward_active_energy"]["dataType"]["specs"]["unit"] == "kW·h"
    assert by_id["relay_output"]["dataType"]["specs"] == {"0": "断开", "1": "闭合"}
    assert by_id["relay_output"]["accessMode"] == "rw"
    post = tsl["events"][0]
    assert post["identifier"] == "post" and post["method"] == "thing.event.property.post"
    assert len(post["outputData"]) == len(tm.properties)
    set_service, get_service = tsl["services"][:2]
    assert [p["identifier"] for p in set_service["inputData"]] == [
        "modbus_address", "baud_rate", "wiring_mode", "ct_ratio", "relay_output"]
    assert get_service["inputData"] == [p.identifier for p in tm.properties]
    td = to_wot(tm, thing_id="urn:dev:ops:pm3300-0001")
    assert td["id"] == "urn:dev:ops:pm3300-0001"
    freq = td["properties"]["frequency"]
    assert (freq["type"], freq["minimum"], freq["maximum"], freq["multipleOf"], freq["unit"],
            freq["readOnly"]) == ("number", 45, 65, 0.01, "http://qudt.org/vocab/unit/HZ", True)
    assert td["properties"]["baud_rate"]["enum"] == [0, 1, 2, 3]
    assert td["properties"]["modbus_address"]["readOnly"] is False
    with pytest.raises(ValueError, match="absolute URI"):
        to_wot(tm, thing_id="not a uri")


def test_vfd_description_reads_events_and_services() -> None:
    tm, _ = extract_thing_model((EXAMPLES / "vfd-drive.zh.md").read_text("utf-8"))
    assert [p.identifier for p in tm.properties] == [
        "output_frequency", "output_current", "output_voltage", "dc_bus_voltage",
        "motor_speed", "run_state", "fault_code", "acceleration_time", "frequency_setpoint"]
    assert tm.find_property("frequency_setpoint").access == "rw"
    assert tm.find_property("run_state").data_type.specs.values["3"] == "故障"
    assert [(e.identifier, e.type, [o.identifier for o in e.output]) for e in tm.events] == [
        ("overcurrent_fault", "error", ["output_current", "fault_code"]),
        ("overvoltage_fault", "error", ["dc_bus_voltage", "fault_code"]),
        ("overheat_alarm", "alert", ["output_frequency"])]
    assert [(s.identifier, s.call_type) for s in tm.services] == [
        ("start", "sync"), ("stop", "sync"), ("fault_reset", "sync")]


# -- schemas: each one catches an invalid document, naming the path -----------------------
def test_platform_schema_negative_names_the_path() -> None:
    doc = datasheet().model_dump(mode="json")
    bad = copy.deepcopy(doc)
    bad["properties"][3]["data_type"]["specs"]["step"] = 0
    bad["events"][0]["type"] = "panic"
    errors = validate_platform(bad)
    assert "$.properties[3].data_type.specs.step: 0 is less than or equal to the minimum of 0" \
        in errors
    assert any(e.startswith("$.events[0].type: 'panic' is not one of") for e in errors)
    swapped = copy.deepcopy(doc)
    swapped["properties"][0]["data_type"]["specs"].update(min=5, max=1)
    assert validate_platform(swapped) == [
        "$.properties[0].data_type.specs: min (5) is greater than max (1)"]
    with pytest.raises(ThingModelError) as caught:
        parse_thing_model(swapped)
    assert caught.value.param == "properties[0].data_type.specs"


def test_tsl_schema_negative_names_the_path() -> None:
    tsl = to_tsl(datasheet())
    tsl["properties"][0]["dataType"]["specs"]["max"] = 1000  # TSL wants strings
    tsl["services"][0]["callType"] = "later"
    errors = validate_tsl(tsl)
    assert "$.properties[0].dataType.specs.max: 1000 is not of type 'string'" in errors
    assert any(e.startswith("$.services[0].callType:") for e in errors)


def test_wot_schema_negative_names_the_path() -> None:
    td = to_wot(datasheet())
    del td["properties"]["frequency"]["forms"]
    td["properties"]["phase_a_voltage"]["multipleOf"] = 0
    del td["securityDefinitions"]
    errors = validate_wot(td)
    assert "$: 'securityDefinitions' is a required property" in errors
    assert "$.properties.frequency: 'forms' is a required property" in errors
    assert any(e.startswith("$.properties.phase_a_voltage.multipleOf:") for e in errors)
    td = to_wot(datasheet())
    td["@context"] = "https://www.w3.org/2019/wot/td/v1"
    assert validate_wot(td) and validate_wot(td)[0].startswith("$.@context:")


# -- diff --------------------------------------------------------------------------------
def test_diff_of_two_versions_is_exact() -> None:
    old = datasheet()
    doc = old.model_dump(mode="json")
    doc["properties"][10]["data_type"]["specs"]["max"] = 70  # frequency
    doc["properties"] = [p for p in doc["properties"] if p["identifier"] != "serial_number"]
    doc["properties"].append({"identifier": "neutral_current", "name": "Neutral current",
                              "access": "r", "description": "", "data_type": {
                                  "type": "float", "specs": {"min": 0, "max": 6000,
                                                             "unit": "A"}}})
    doc["properties"][14]["data_type"]["specs"]["values"]["4"] = "38400 bps"  # baud_rate
    doc["events"] = doc["events"][1:]
    doc["services"] = [{"identifier": "clear_energy", "name": "Clear energy",
                        "description": "", "call_type": "sync", "input": [], "output": []}]
    doc["name"] = "PM-3300 电力仪表"
    new = parse_thing_model(doc)
    changes = diff_thing_models(old, new)
    assert changes == [
        Change("changed", "name", "PM-3300 三相多功能电力仪表", "PM-3300 电力仪表"),
        Change("changed", "properties.frequency.data_type.specs.max", 65, 70),
        Change("added", "properties.baud_rate.data_type.specs.values.4", new="38400 bps"),
        Change("removed", "properties.serial_number",
               old=old.find_property("serial_number").model_dump(mode="json")),
        Change("added", "properties.neutral_current",
               new=new.find_property("neutral_current").model_dump(mode="json")),
        Change("removed", "events.overvoltage_alarm",
               old=old.events[0].model_dump(mode="json")),
        Change("added", "services.clear_energy", new=new.services[0].model_dump(mode="json")),
    ]
    assert format_diff(changes).splitlines() == [
        "~ name: PM-3300 三相多功能电力仪表 -> PM-3300 电力仪表",
        "~ properties.frequency.specs.max: 65 -> 70",
        "+ properties.baud_rate.specs.values.4 = 38400 bps",
        "- property serial_number (text)",
        "+ property neutral_current (float, A)",
        "- event overvoltage_alarm (alert)",
        "+ service clear_energy (sync)",
    ]
    assert diff_thing_models(old, old) == [] and format_diff([]) == "no changes"


def test_diff_type_change_and_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from maas.cli import app

    old = datasheet()
    doc = old.model_dump(mode="json")
    doc["properties"][13]["data_type"] = {"type": "float", "specs": {"min": 1, "max": 247}}
    (tmp_path / "v1.json").write_text(json.dumps(old.model_dump(mode="json")), "utf-8")
    (tmp_path / "v2.json").write_text(json.dumps(doc), "utf-8")
    runner = CliRunner()
    out = runner.invoke(app, ["tools", "thing-model", "diff", str(tmp_path / "v1.json"),
                              str(tmp_path / "v2.json")])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        "~ properties.modbus_address.type: int -> float",
        '~ properties.modbus_address.specs: {"max": 247, "min": 1, "step": 1} -> '
        '{"max": 247, "min": 1}']
    doc["properties"][0]["identifier"] = "Bad Id"
    (tmp_path / "v3.json").write_text(json.dumps(doc), "utf-8")
    out = runner.invoke(app, ["tools", "thing-model", "diff", str(tmp_path / "v1.json"),
                              str(tmp_path / "v3.json")])
    assert out.exit_code == 2
    assert "properties[0].identifier" in out.stderr
