"""App packages, tools and the agent's action protocol, checked without a gateway."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from maas.catalog.apps import AppManifest, check_prompt, load_app_package, load_app_packages
from maas.catalog.knowledge import load_kb_manifests
from maas.catalog.models import ManifestError, load_model_manifests
from maas.errors import InvalidRequest
from maas.settings import REPO_ROOT
from maas.store.forms import check_inputs
from maas.store.protocol import action_schema, parse_action
from maas.store.tools import ToolContext, ToolError, ToolRegistry
from maas.store.tools.calculator import evaluate

APPS = REPO_ROOT / "apps"
REQUIRED_APPS = {"customer-service-assistant", "equipment-fault-assistant",
                 "textile-defect-advisor", "warehouse-sop-assistant", "mining-safety-assistant",
                 "digital-transformation-diagnosis", "thing-model-designer",
                 "protocol-parser-generator", "digital-level-assessment"}


def test_every_app_in_the_repo_validates_and_names_what_exists() -> None:
    packages = load_app_packages(APPS)
    assert {p.slug for p in packages} >= REQUIRED_APPS
    models = {m.id: m for m in load_model_manifests(REPO_ROOT / "models")}
    kbs = {k.id for k in load_kb_manifests(REPO_ROOT / "knowledge_bases")}
    tools = set(ToolRegistry.default(plugins=False).names())
    for package in packages:
        m = package.manifest
        assert models[m.model].kind == "chat", m.slug
        assert set(m.knowledge_bases) <= kbs, m.slug
        assert set(m.tools) <= tools, m.slug
        assert m.title.zh and m.title.en and m.description.zh and m.description.en, m.slug
        assert len(package.readme) > 400 and len(package.prompt) > 200, m.slug
        handed_over = any(v == "{{inputs}}" for preset in m.first_tools
                          for v in preset.arguments.values())
        if m.kind == "form" and not handed_over:  # else a tool gets the whole form
            names = {f.name for f in m.input_form or []}
            assert all(f"{{{{{n}}}}}" in package.prompt.replace(" ", "") for n in names), m.slug
    assert any(p.manifest.kind == "form" for p in packages)
    assert {p.manifest.pricing.kind for p in packages} == {"free", "per_run", "monthly"}


def _write(folder: Path, manifest: str, prompt: str = "Hello {{app_title}}") -> Path:
    folder.mkdir(parents=True)
    (folder / "app.yaml").write_text(manifest, encoding="utf-8")
    (folder / "prompt.md").write_text(prompt, encoding="utf-8")
    (folder / "README.md").write_text("# App\n", encoding="utf-8")
    return folder


BASE = "title: {zh: 甲, en: A}\nindustry: x\nmodel: m\n"


@pytest.mark.parametrize(("manifest", "prompt", "message"), [
    ("slug: other\n" + BASE, "Hi", "must match its folder"),
    ("slug: app-x\n" + BASE + "kind: form\n", "Hi", "input_form is required"),
    ("slug: app-x\n" + BASE + "pricing: {kind: per_run}\n", "Hi", "credits > 0"),
    ("slug: app-x\n" + BASE + "tools: [calculator, calculator]\n", "Hi", "listed twice"),
    ("slug: app-x\n" + BASE + "prompt: ../secret.md\n", "Hi", "inside the folder"),
    ("slug: app-x\n" + BASE, "Hi {{colour}}", "undefined variables"),
    ("slug: app-x\n" + BASE + "output: {type: json, schema: {type: object}}\n", "Hi",
     "for form apps"),
    ("slug: app-x\n" + BASE + "colour: red\n", "Hi", "colour"),
])
def test_bad_app_packages_name_the_problem(tmp_path: Path, manifest: str, prompt: str,
                                           message: str) -> None:
    folder = _write(tmp_path / "app-x", manifest, prompt)
    with pytest.raises(ManifestError, match=message.replace("(", r"\(")) as error:
        load_app_package(folder)
    assert "app-x" in str(error.value)


def test_prompt_variables_are_checked_and_filled_as_text() -> None:
    manifest = AppManifest.model_validate({
        "slug": "form-app", "title": {"zh": "表", "en": "Form"}, "industry": "x",
        "model": "m", "kind": "form", "output": {"type": "document"},
        "input_form": [{"name": "machine", "label": {"zh": "设备", "en": "Machine"}}]})
    check_prompt(manifest, "Report on {{ machine }} for {{app_title}} on {{today}}")
    with pytest.raises(ValueError, match="machin"):
        check_prompt(manifest, "Report on {{machin}}")
    from maas.catalog.apps import render_prompt

    assert render_prompt("On {{machine}}!", {"machine": "{{today}} {% x %}"}) == \
        "On {{today}} {% x %}!"


@pytest.mark.parametrize(("expression", "value"), [
    ("380*1.732*25*0.85/1000", 13.9859), ("2^10", 1024), ("sqrt(16) + abs(-2)", 6),
    ("round(pi, 3)", 3.142), ("7 // 2 + 7 % 2", 4), ("-(3 - 5) * 1e3", 2000),
])
def test_calculator_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize("expression", [
    "__import__('os').system('id')", "open('/etc/passwd')", "(1).__class__", "x + 1",
    "9**9**9", "10**400", "1/0", "[1, 2]", "'a' * 3", "lambda: 1", "True + 1", "",
    "1" * 400, "sqrt(-1)", "max()",
])
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ToolError):
        evaluate(expression)


def _context(hits: list[dict[str, Any]] | None = None) -> ToolContext:
    async def search(query: str, top_k: int) -> list[dict[str, Any]]:
        return (hits or [])[:top_k]

    return ToolContext("t", "a", "en", search)


def _run(name: str, arguments: dict[str, Any], context: ToolContext | None = None) -> Any:
    tool = ToolRegistry.default(plugins=False).get(name)
    assert tool is not None
    return asyncio.run(tool.run(context or _context(), arguments))


def test_unit_conversion_and_its_errors() -> None:
    assert _run("unit_convert", {"value": 7.5, "from_unit": "kW", "to_unit": "hp"}).data[
        "value"] == pytest.approx(10.0577, rel=1e-4)
    assert _run("unit_convert", {"query": "100 ℃ to degF"}).data["value"] == pytest.approx(212)
    assert _run("unit_convert", {"value": 1, "from_unit": "兆帕", "to_unit": "bar"}).data[
        "value"] == pytest.approx(10)
    assert _run("unit_convert", {"value": 3000, "from_unit": "rpm", "to_unit": "Hz"}).data[
        "value"] == pytest.approx(50)
    for arguments in ({"value": 1, "from_unit": "MPa", "to_unit": "kg"},
                      {"value": 1, "from_unit": "flubs", "to_unit": "m"},
                      {"value": "x", "from_unit": "m", "to_unit": "mm"},
                      {"query": "convert please"}):
        with pytest.raises(ToolError):
            _run("unit_convert", arguments)


def test_kb_search_numbers_its_passages_after_the_run_sources() -> None:
    hit = {"document": "a.md", "page": 2, "text": "Torque 85 N*m", "score": 0.9,
           "knowledge_base": "kb"}
    context = _context([hit])
    context.hits.append({"document": "first.md", "text": "x"})
    result = _run("kb_search", {"query": "torque"}, context)
    assert result.text == "[2] (a.md, p. 2) Torque 85 N*m" and len(context.hits) == 2
    with pytest.raises(ToolError):
        _run("kb_search", {"query": "  "})


def test_action_schema_offers_only_the_given_tools_and_parse_is_robust() -> None:
    registry = ToolRegistry.default(plugins=False)
    schema = action_schema([registry.get("calculator")])  # type: ignore[list-item]
    names = [o["properties"]["action"]["enum"][0] for o in schema["anyOf"]]
    assert names == ["calculator", "answer"]
    assert parse_action('{"action": "calculator", "arguments": {"expression": "1+1"}}') == (
        "calculator", {"expression": "1+1"})
    assert parse_action('I will search. {"tool": "kb_search", "input": "pump"} ok') == (
        "kb_search", {"query": "pump"})
    assert parse_action('{"action": "answer"}') == ("answer", {})
    for text in ("no json here", "{broken", '{"action": 3}', "[1, 2]", ""):
        assert parse_action(text) is None
    assert json.dumps(schema)  # serialisable as a response_format


def test_registry_refuses_duplicates_and_bad_names() -> None:
    registry = ToolRegistry.default(plugins=False)
    with pytest.raises(ValueError, match="twice"):
        registry.register(registry.get("calculator"))  # type: ignore[arg-type]

    class Bad:
        name = "Bad Name"

    with pytest.raises(ValueError, match="not valid"):
        registry.register(Bad())  # type: ignore[arg-type]


def test_tool_plugins_load_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    class Echo:
        name = "echo_tool"
        description = "Echo"
        parameters: dict[str, Any] = {"type": "object"}

    class Entry:
        def __init__(self, name: str, factory: Any) -> None:
            self.name, self._factory = name, factory

        def load(self) -> Any:
            return self._factory

    def broken() -> Any:
        raise RuntimeError("plugin bug")

    monkeypatch.setattr("maas.store.tools.entry_points", lambda group: [
        Entry("echo", Echo), Entry("broken", broken)])
    registry = ToolRegistry.default()
    assert "echo_tool" in registry.names() and "broken" not in registry.names()


def test_form_inputs_are_typed_and_checked() -> None:
    manifest = AppManifest.model_validate({
        "slug": "form-app", "title": {"zh": "表", "en": "Form"}, "industry": "x",
        "model": "m", "kind": "form", "input_form": [
            {"name": "staff", "label": {"zh": "人数", "en": "Staff"}, "type": "integer",
             "minimum": 1, "maximum": 5000},
            {"name": "erp", "label": {"zh": "ERP", "en": "ERP"}, "type": "boolean",
             "required": False, "default": False}]})
    form = manifest.input_form or []
    assert check_inputs(form, {"staff": 120.0}) == {"staff": 120, "erp": False}
    for inputs in ({"staff": 0}, {"staff": True}, {}, {"staff": 3, "x": 1},
                   {"staff": float("nan")}):
        with pytest.raises(InvalidRequest):
            check_inputs(form, inputs)


def test_diagnosis_app_form_is_the_questionnaire() -> None:
    """apps/digital-level-assessment is generated from the questionnaire: no drift."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "scripts/render_diagnosis_app.py", "--check"],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, "run scripts/render_diagnosis_app.py: " + done.stderr
