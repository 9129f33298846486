"""`maas factory`: a conversation on a spec file, a diff, and a generated, tested project."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from maas.cli import app

runner = CliRunner()


def test_say_diff_and_generate(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    first = runner.invoke(app, ["factory", "say", str(spec),
                                "I need a maintenance app: work orders, spare parts"])
    assert first.exit_code == 0 and "What does a Work order record?" in first.output
    before = tmp_path / "before.json"
    before.write_text(spec.read_text())
    runner.invoke(app, ["factory", "say", str(spec),
                        "A work order has title (required), due date, priority (low/high). "
                        "A spare part has name (required), quantity (0-10000). "
                        "Roles: technician can do everything."])
    assert json.loads(spec.read_text())["roles"][0]["name"] == "technician"
    diff = runner.invoke(app, ["factory", "diff", str(before), str(spec)])
    assert "+ entities.work_order.fields.due_date (date) (due date)" in diff.output
    made = runner.invoke(app, ["factory", "generate", str(spec), "--out", str(tmp_path / "o")])
    assert made.exit_code == 0, made.output
    assert "tests passed" in made.output
    assert (tmp_path / "o" / "maintenance_app" / "maintenance_app" / "models.py").is_file()
    assert (tmp_path / "o" / "maintenance_app-v1.zip").is_file()
    again = runner.invoke(app, ["factory", "generate", str(spec), "--out", str(tmp_path / "o")])
    assert again.exit_code == 1 and "exists" in again.output


def test_incomplete_or_broken_specs_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    runner.invoke(app, ["factory", "say", str(spec), "I need a shop system: orders"])
    result = runner.invoke(app, ["factory", "generate", str(spec), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "not complete" in result.output
    spec.write_text('{"name": "__x"}')
    result = runner.invoke(app, ["factory", "say", str(spec), "hello"])
    assert result.exit_code == 1 and "spec.name" in result.output
