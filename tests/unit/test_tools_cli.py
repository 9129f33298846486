"""`maas tools`: the toolbox's deterministic parts from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from maas.cli import app
from maas.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"


def test_parser_build_writes_a_tested_package(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["tools", "parser", "build",
                                   str(EXAMPLES / "register_maps" / "vfd-drive.csv"),
                                   "--out", str(tmp_path / "pkg"), "--package", "vfd"])
    assert out.exit_code == 0, out.output
    assert "modbus parser vfd: tests passed" in out.stdout
    assert (tmp_path / "pkg" / "tests" / "test_golden.py").exists()
    assert (tmp_path / "pkg" / "vfd" / "codec.py").exists()


def test_parser_build_names_the_bad_row(tmp_path: Path) -> None:
    bad = tmp_path / "map.csv"
    bad.write_text("address,name,type\n40001,a,uint16\n40002,b,int24\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["tools", "parser", "build", str(bad), "--out",
                                   str(tmp_path / "x")])
    assert out.exit_code == 2 and 'row 3: type "int24" is not supported' in out.stderr


def test_diagnosis_score_and_report(tmp_path: Path) -> None:
    answers = str(EXAMPLES / "diagnosis" / "answers-machining-sme.yaml")
    runner = CliRunner()
    scored = runner.invoke(app, ["tools", "diagnosis", "score", answers, "--json"])
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.stdout)
    assert (result["total"], result["level"]) == (46.23, 2)
    report = runner.invoke(app, ["tools", "diagnosis", "report", answers, "--out",
                                 str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "46.23" in html and "<svg" in html


def test_thing_model_generate_validate_export(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["tools", "thing-model", "generate",
                               str(EXAMPLES / "thing_models" / "th-sensor.en.md")])
    assert made.exit_code == 0, made.output
    (tmp_path / "tm.json").write_text(made.stdout, encoding="utf-8")
    checked = runner.invoke(app, ["tools", "thing-model", "validate", str(tmp_path / "tm.json")])
    assert checked.exit_code == 0 and "valid platform document" in checked.stdout
    tsl = runner.invoke(app, ["tools", "thing-model", "export", str(tmp_path / "tm.json"),
                              "--format", "tsl"])
    (tmp_path / "tsl.json").write_text(tsl.stdout, encoding="utf-8")
    assert runner.invoke(app, ["tools", "thing-model", "validate", str(tmp_path / "tsl.json"),
                               "--kind", "tsl"]).exit_code == 0
    assert runner.invoke(app, ["tools", "thing-model", "validate", str(tmp_path / "tsl.json"),
                               "--kind", "wot"]).exit_code == 2
