"""The industrial toolbox as agent tools: thing models, protocol parsers, diagnosis.

Each tool does its deterministic work itself and gives the model a compact summary to
explain; the full result (thing model and exports, parser build, scores) goes into the
run's trace. With the gateway's toolbox and the caller at hand, a parser build and an
assessment are kept in the caller's tenant, so the answer can link to the download and
the report; elsewhere (`maas apps check`, tests) the tools still run and keep nothing.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

from maas.errors import MaasError
from maas.store.tools import ToolContext, ToolError, ToolResult
from maas.toolbox.diagnosis.form import answers_from_form
from maas.toolbox.diagnosis.questionnaire import load_questionnaire
from maas.toolbox.diagnosis.scoring import score_assessment
from maas.toolbox.protocol.build import build_parser
from maas.toolbox.protocol.frames import parse_frame_spec
from maas.toolbox.protocol.registers import parse_register_map
from maas.toolbox.service import Toolbox
from maas.toolbox.thingmodel.bundle import bundle
from maas.toolbox.thingmodel.datasheet import extract_thing_model

MAX_SPEC = 100_000
QUESTIONNAIRE = "sme-digital-level-2024"


def _spec_of(dt: dict[str, Any]) -> str:
    specs = dt.get("specs") or {}
    if dt.get("type") in ("int", "float", "double"):
        span = f"{specs.get('min', '?')}..{specs.get('max', '?')}" \
            if "min" in specs or "max" in specs else ""
        return " ".join(p for p in (span, specs.get("unit", "")) if p)
    if dt.get("type") == "enum":
        return ", ".join(f"{k}={v}" for k, v in (specs.get("values") or {}).items())
    return ""


class ThingModelTool:
    name = "thing_model"
    description = ("Read a device description or a datasheet's parameter table and return a "
                   "validated thing model (properties, events, services) with its Alibaba "
                   "IoT TSL and W3C WoT Thing Description exports.")
    parameters = {"type": "object", "additionalProperties": False, "required": ["description"],
                  "properties": {"description": {"type": "string", "maxLength": MAX_SPEC},
                                 "name": {"type": "string", "maxLength": 200}}}

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        text = str(arguments.get("description") or "").strip()[:MAX_SPEC]
        if not text:
            raise ToolError("give the device description")
        name = arguments.get("name") if isinstance(arguments.get("name"), str) else None
        tm, notes = await asyncio.to_thread(extract_thing_model, text, name=name)
        made = bundle(tm)
        doc, tsl, wot = made["thing_model"], made["tsl"], made["wot"]
        problems = [p for found in made["validation"].values() for p in found]
        lines = [f"Thing model {doc['identifier']} ({doc['name']}): "
                 f"{len(doc['properties'])} properties, {len(doc['events'])} events, "
                 f"{len(doc['services'])} services; "
                 + ("valid as platform schema, TSL and WoT TD." if not problems
                    else f"{len(problems)} validation problems: {problems[:3]}")]
        for p in doc["properties"]:
            dt = p["data_type"]
            lines.append(f"- property {p['identifier']} ({p['name']}): {dt['type']} "
                         f"{_spec_of(dt)} [{p['access']}]".rstrip())
        lines += [f"- event {e['identifier']} ({e['type']})" for e in doc["events"]]
        lines += [f"- service {s['identifier']} ({s['call_type']})" for s in doc["services"]]
        skipped = [n for n in notes if "skip" in n.lower()][:5]
        if skipped:
            lines.append("Not read: " + "; ".join(skipped))
        return ToolResult("\n".join(lines), {"thing_model": doc, "tsl": tsl, "wot": wot,
                                             "validation": problems, "notes": notes[:50]})


def _spec_filename(text: str) -> str:
    """Which reader a pasted spec needs: a Markdown table, a YAML frame spec, or CSV."""
    if re.search(r"^\s*\|.*\|\s*$", text, re.MULTILINE):
        return "pasted.md"
    if re.search(r"^\s*fields\s*:", text, re.MULTILINE):
        return "pasted.yaml"
    return "pasted.csv"


class ProtocolParserTool:
    name = "protocol_parser"
    description = ("Generate a Python parser package from a Modbus register map (Markdown or "
                   "CSV table) or a binary frame spec (YAML), run its tests in a sandbox and "
                   "return the result with a download link.")
    parameters = {"type": "object", "additionalProperties": False, "required": ["spec"],
                  "properties": {"spec": {"type": "string", "maxLength": MAX_SPEC},
                                 "package": {"type": "string", "maxLength": 41}}}

    def __init__(self, toolbox: Toolbox | None = None) -> None:
        self.toolbox = toolbox

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        text = str(arguments.get("spec") or "")[:MAX_SPEC]
        if not text.strip():
            raise ToolError("give the register map or frame spec")
        filename = _spec_filename(text)
        package = str(arguments.get("package") or "device_parser")
        try:
            return await asyncio.to_thread(self._build, context, filename, text, package)
        except MaasError as exc:  # a bad map: every problem, with its row
            raise ToolError(exc.message) from exc

    def _build(self, context: ToolContext, filename: str, text: str, package: str
               ) -> ToolResult:
        data = text.encode()
        if filename.endswith(".yaml"):
            kind, spec = "frame", parse_frame_spec(data, filename=filename)
        else:
            kind, spec = "modbus", parse_register_map(data, filename=filename)
        if self.toolbox is not None and context.principal is not None:
            row = self.toolbox.parsers.build(context.principal, kind, spec, package=package,
                                             source_name=filename)
            passed, isolation, files = row.passed, row.isolation, row.files
            output, link = row.test_output, f"/v1/tools/protocol-parsers/{row.id}/download"
        else:
            with tempfile.TemporaryDirectory(prefix="maas-parser-") as tmp:
                result = build_parser(spec, package=package, workdir=Path(tmp))
            passed, isolation, files = result.passed, result.test.isolation, sorted(result.files)
            output, link = result.test_output, None
        summary = [f"{kind} parser package {package}: tests "
                   f"{'passed' if passed else 'FAILED'} in the sandbox ({isolation}); "
                   f"{len(files)} files."]
        summary.append(f"Download: {link}" if link else "Not stored (no tenant context).")
        tail = output.strip().splitlines()[-3:]
        if tail:
            summary.append("Test output (end): " + " | ".join(tail))
        return ToolResult("\n".join(summary), {"kind": kind, "passed": passed, "files": files,
                                               "download": link, "isolation": isolation})


class DiagnosisTool:
    name = "diagnosis"
    description = ("Score a filled SME digital-level questionnaire: dimension scores, total, "
                   "level with the rules applied, weaknesses, and a report link.")
    parameters = {"type": "object", "additionalProperties": False, "required": ["answers"],
                  "properties": {"answers": {"type": "object"},
                                 "company": {"type": "string", "maxLength": 200}}}

    def __init__(self, toolbox: Toolbox | None = None) -> None:
        self.toolbox = toolbox

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> ToolResult:
        raw = arguments.get("answers")
        if not isinstance(raw, dict):
            raise ToolError("answers must be an object of question id -> answer")
        q = load_questionnaire(QUESTIONNAIRE)
        answers = answers_from_form(q, raw)
        try:
            result = score_assessment(q, answers)
        except MaasError as exc:
            raise ToolError(exc.message) from exc
        language = "zh" if context.language == "zh" else "en"
        data: dict[str, Any] = {"result": result.model_dump(mode="json")}
        report = None
        if self.toolbox is not None and context.principal is not None:
            company = str(arguments.get("company") or "-")[:200]
            row = await self.toolbox.assessments.assess(
                context.principal, QUESTIONNAIRE, answers, company=company, language=language,
                model=None, call=None, search=context.search)
            report = assessment_links(row.id)
            data["assessment_id"] = row.id
            data["report"] = report
        view = data["result"]
        lines = [f"Total {view['total']} of 100, level {view['level']}."]
        for dim in view.get("dimensions") or []:
            name = (dim.get("name") or {}).get(language) or dim.get("id")
            lines.append(f"- {name}: {dim.get('score')}")
        weak = [(w.get("name") or {}).get(language) or w.get("id")
                for w in (view.get("weaknesses") or [])[:5]]
        if weak:
            lines.append("Weakest: " + ", ".join(str(w) for w in weak))
        if report:
            lines.append(f"Report: {report['html']} (DOCX: {report['docx']})")
        return ToolResult("\n".join(lines), data)


def assessment_links(assessment_id: str) -> dict[str, str]:
    base = f"/v1/tools/diagnosis/assessments/{assessment_id}"
    return {"html": f"{base}/report.html", "docx": f"{base}/report.docx"}


def industrial_tools(toolbox: Toolbox | None = None) -> list[Any]:
    return [ThingModelTool(), ProtocolParserTool(toolbox), DiagnosisTool(toolbox)]
