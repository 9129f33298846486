"""The software factory's parts: spec validation, naming, the requirements reader, report
conditions, spec diffs, rendering (deterministic, formatted, lint-clean) and the sandbox
holding a hostile generated test in."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from maas.errors import InvalidRequest
from maas.factory.build import build_project
from maas.factory.dialogue import empty_spec, take_turn
from maas.factory.diff import diff_specs, format_spec_diff
from maas.factory.naming import identifier_for, plural_of, singular_of
from maas.factory.render import py, render_project
from maas.factory.spec import parse_spec
from maas.toolbox.sandbox import find_bwrap

SPEC = Path(__file__).parents[1] / "fixtures" / "factory" / "inspection-spec.json"


def spec_data() -> dict:
    return json.loads(SPEC.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["__import__('os').system('x')", "../etc", "Class", "class",
                                  "id", "metadata", "a__b", "x" * 41, "1st", "名称", "{{ x }}"])
def test_field_names_that_could_become_code_are_refused(name: str) -> None:
    data = spec_data()
    data["entities"][0]["fields"][0]["name"] = name
    with pytest.raises(InvalidRequest) as error:
        parse_spec(data)
    assert error.value.param == "spec.entities.0.fields.0.name"


@pytest.mark.parametrize(("path", "value", "message"), [
    (("entities", 1, "fields", 0, "target"), "nowhere", "unknown entity"),
    (("entities", 0, "fields", 4, "choices"), ["a", "a"], "repeat"),
    (("entities", 0, "fields", 4, "choices"), ["ok", "{{bad}}"], "may not contain"),
    (("reports", 0, "where", 0, "value"), "yesterday", "compare a date"),
    (("reports", 0, "entity"), "defect", "unknown field"),
    (("roles", 1, "permissions"), {"ghost": ["read"]}, "unknown entities"),
])
def test_inconsistent_specs_name_the_problem(path: tuple, value: object, message: str) -> None:
    data = spec_data()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InvalidRequest, match=message):
        parse_spec(data)


def test_names_from_english_and_chinese() -> None:
    assert identifier_for("Inspection Records", "entity", singular=True) == "inspection_record"
    assert identifier_for("巡检记录", "entity") == "inspection_record"
    assert identifier_for("下次巡检日期", "field") == "next_inspection_date"
    assert identifier_for("class", "field") == "class_field"
    assert identifier_for("__import__('os')", "field") == "import_os"
    assert identifier_for("完全未知词语", "field") is None
    assert plural_of("category") == "categories" and plural_of("box") == "boxes"
    assert singular_of("categories") == "category" and singular_of("status") == "status"


def test_change_requests_edit_exactly_what_they_say() -> None:
    spec = parse_spec(spec_data())
    turn = take_turn(spec, "add a due date to inspections")
    assert turn.changes == [] and "Inspection plan" in turn.not_understood[0]
    turn = take_turn(spec, "add a due date to inspection records")
    assert turn.changes == ["+ entities.inspection_record.fields.due_date (date) (due date)"]
    turn = take_turn(turn.spec, "remove notes from inspection record")
    assert turn.changes == ["- entities.inspection_record.fields.notes (text) (Notes)"]
    unchanged = take_turn(spec, "make it nicer")
    assert unchanged.spec == spec and unchanged.not_understood == ["make it nicer"]


def test_a_turn_that_would_break_the_spec_changes_nothing() -> None:
    spec = parse_spec(spec_data())
    turn = take_turn(spec, "add status (a/a) to device")
    assert turn.spec == spec and "invalid" in turn.reply


def test_questions_follow_what_is_missing() -> None:
    turn = take_turn(empty_spec(), "I need a maintenance app: work orders, spare parts")
    assert "What does a Work order record?" in turn.reply
    turn = take_turn(turn.spec, "A work order has title (required), due date")
    assert "Spare part" in turn.reply


def test_spec_diff_matches_by_name() -> None:
    old = parse_spec(spec_data())
    data = spec_data()
    data["entities"].reverse()
    data["entities"][0]["fields"][1]["required"] = False
    new = parse_spec(data)
    assert format_spec_diff(diff_specs(old, new)) == [
        "~ entities.defect.fields.description.required: true -> false"]


def test_literals_read_back_exactly() -> None:
    for value in ["\"\"\"; import os", "{{ x }}", "\\", {"a": [1, 2.5, None, True]}]:
        assert eval(py(value)) == value  # noqa: S307 - checking the writer on constants
    with pytest.raises(ValueError):
        py(float("nan"))


def test_rendering_is_deterministic_and_lint_clean(tmp_path: Path) -> None:
    spec = parse_spec(spec_data())
    first = render_project(spec, 3, date(2026, 1, 1))
    assert first == render_project(spec, 3, date(2026, 1, 1))
    for relative, text in first.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for command in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=tmp_path,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_minimal_spec_builds_and_passes(tmp_path: Path) -> None:
    """No reports, no images, no references, one role: the smallest project still works."""
    spec = parse_spec({"name": "parts", "entities": [{"name": "part", "fields": [
        {"name": "title", "required": True}, {"name": "quantity", "type": "integer"}]}],
        "roles": [{"name": "clerk", "permissions": {"*": ["create", "read"]}}]})
    result = build_project(spec, 1, tmp_path / "parts")
    assert result.passed, result.test_output


@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_datetime_and_fixed_date_report_conditions_pass_their_own_tests(tmp_path: Path,
                                                                         op: str) -> None:
    """The generated report test's match/miss values agree with the report's query for
    datetimes (against the start of a day) and fixed dates, for every comparison."""
    spec = parse_spec({"name": "visits", "entities": [{"name": "visit", "fields": [
        {"name": "title", "required": True}, {"name": "seen_at", "type": "datetime"},
        {"name": "due", "type": "date"}]}],
        "roles": [{"name": "clerk", "permissions": {"*": ["create", "read"]}}],
        "reports": [{"name": "by_time", "entity": "visit", "where": [
            {"field": "seen_at", "op": op, "value": "today-1"}]},
            {"name": "by_day", "entity": "visit", "where": [
                {"field": "due", "op": op, "value": "2025-06-01"}]}]})
    result = build_project(spec, 1, tmp_path / "visits")
    assert result.passed, result.test_output


HOSTILE_TEST = '''
import socket
from pathlib import Path


def test_reaches_the_network():
    socket.create_connection(("127.0.0.1", 5432), timeout=3).close()


def test_writes_outside_its_folder():
    Path({home!r}, "maas-factory-escape.txt").write_text("x")
'''


@pytest.mark.skipif(find_bwrap() is None, reason="bubblewrap is not installed")
def test_hostile_generated_tests_fail_inside_the_sandbox(tmp_path: Path) -> None:
    home = Path.home()
    hostile = {"tests/test_escape.py": HOSTILE_TEST.format(home=str(home))}
    result = build_project(parse_spec(spec_data()), 1, tmp_path / "p",
                           extra_files=hostile).test
    assert result is not None and result.isolation == "bubblewrap"
    output = result.stdout
    assert "2 failed" in output, output[-2000:]
    assert "FAILED tests/test_escape.py::test_reaches_the_network" in output
    assert "FAILED tests/test_escape.py::test_writes_outside_its_folder" in output
    assert not (home / "maas-factory-escape.txt").exists()
