"""The industrial toolbox over real HTTP: thing models (generate, save, version, diff,
export), protocol parsers (build and test in the sandbox, download, row-precise errors),
the diagnosis (assess, report, compare), the apps that use them, and tenant isolation."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from maas.app import build_services, create_app
from maas.settings import REPO_ROOT, Settings
from maas.toolbox.thingmodel.validate import validate_platform, validate_tsl, validate_wot
from tests.conftest import ADMIN_KEY, write_fake_manifests
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import bearer, grant, make_plan, make_tenant, ok

EXAMPLES = REPO_ROOT / "examples"
TOOL_APPS = ("thing-model-designer", "protocol-parser-generator", "digital-level-assessment")


@pytest.fixture
def base(tmp_path: Path, fake_engine: tuple[str, Any]) -> Iterator[str]:
    url, engine = fake_engine
    write_fake_manifests(tmp_path / "models", url)
    apps = tmp_path / "apps"
    for slug in TOOL_APPS:  # the shipped apps, on the fake model
        shutil.copytree(REPO_ROOT / "apps" / slug, apps / slug)
        manifest = apps / slug / "app.yaml"
        manifest.write_text(manifest.read_text(encoding="utf-8").replace(
            "model: smollm2-135m-instruct", "model: fake-chat"), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                        knowledge_bases_dir=tmp_path / "kbs", apps_dir=apps,
                        build_knowledge_bases=False, admin_api_key=ADMIN_KEY,
                        supervise_workers=False, tool_model="fake-chat", _env_file=None)
    engine.state.decisions = []
    with serve_in_thread(create_app(settings, services=build_services(settings))) as url:
        yield url


def _tenant(base: str, tenant_id: str) -> Any:
    make_plan(base, f"plan-{tenant_id}", billing="prepaid")
    world = make_tenant(base, tenant_id, plan=f"plan-{tenant_id}")
    grant(base, tenant_id, 100)
    return world


def _post(base: str, key: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    return ok(httpx.post(f"{base}{path}", headers=bearer(key), timeout=120, **kwargs), status)


def _get(base: str, key: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{base}{path}", headers=bearer(key), timeout=60, **kwargs)


def _all_valid(result: dict[str, Any]) -> None:
    assert result["validation"] == {"platform": [], "tsl": [], "wot": []}
    assert validate_platform(result["thing_model"]) == []
    assert validate_tsl(result["tsl"]) == [] and validate_wot(result["wot"]) == []


def test_thing_models_generate_version_diff_export_and_isolation(base: str) -> None:
    a, b = _tenant(base, "tm-a"), _tenant(base, "tm-b")
    vfd = (EXAMPLES / "thing_models" / "vfd-drive.zh.md").read_text(encoding="utf-8")
    made = _post(base, a.key, "/v1/tools/thing-models/generate",
                 json={"text": vfd, "save": True, "comment": "from the description"})
    _all_valid(made)
    props = {p["identifier"]: p for p in made["thing_model"]["properties"]}
    assert len(props) >= 8 and made["thing_model"]["events"] and made["thing_model"]["services"]
    assert made["model"] == "fake-chat" and made["saved"]["version"] == 1
    tm_id = made["saved"]["thing_model_id"]

    # The datasheet as an upload, read by the knowledge loaders' table reader.
    sheet = (EXAMPLES / "thing_models" / "datasheet-power-meter.md").read_bytes()
    upload = ok(httpx.post(f"{base}/v1/tools/thing-models/generate/upload",
                           headers=bearer(a.key), timeout=60,
                           files={"file": ("pm3300.md", sheet, "text/markdown")},
                           data={"use_model": "false", "save": "true"}))
    _all_valid(upload)
    assert upload["model"] is None and upload["saved"]["version"] == 1
    assert any(p["data_type"]["specs"].get("unit") == "V"
               for p in upload["thing_model"]["properties"])

    # A hand edit becomes version 2; the diff names exactly what changed.
    doc = made["thing_model"]
    first = doc["properties"][0]
    edited = json.loads(json.dumps(doc))
    edited["properties"].append({"identifier": "motor_temperature", "name": "Motor temperature",
                                 "access": "r", "description": "",
                                 "data_type": {"type": "float",
                                               "specs": {"min": -20, "max": 150, "unit": "°C"}}})
    edited["properties"] = [p for p in edited["properties"]
                            if p["identifier"] != first["identifier"]]
    v2 = _post(base, a.key, f"/v1/tools/thing-models/{tm_id}/versions", 201,
               json={"document": edited, "comment": "added motor temperature"})
    assert v2["version"] == 2
    diff = ok(_get(base, a.key, f"/v1/tools/thing-models/{tm_id}/diff",
                   params={"from": 1, "to": 2}))
    assert diff["text"].splitlines() == [
        f"- property {first['identifier']} ({first['data_type']['type']}"
        + (f", {first['data_type']['specs']['unit']})"
           if first["data_type"].get("specs", {}).get("unit") else ")"),
        "+ property motor_temperature (float, °C)"]
    shown = ok(_get(base, a.key, f"/v1/tools/thing-models/{tm_id}"))
    assert shown["latest_version"] == 2 and [v["version"] for v in shown["versions"]] == [1, 2]
    tsl = ok(_get(base, a.key, f"/v1/tools/thing-models/{tm_id}/export",
                  params={"format": "tsl", "version": 1}))
    wot = ok(_get(base, a.key, f"/v1/tools/thing-models/{tm_id}/export",
                  params={"format": "wot"}))
    assert validate_tsl(tsl) == [] and validate_wot(wot) == []
    assert "motor_temperature" in wot["properties"]
    assert "motor_temperature" not in {p["identifier"] for p in tsl["properties"]}

    # Bad documents are refused with the path; the stored versions are untouched.
    bad = json.loads(json.dumps(edited))
    bad["properties"][0]["data_type"] = {"type": "float", "specs": {"min": 10, "max": 1}}
    refused = httpx.post(f"{base}/v1/tools/thing-models/{tm_id}/versions",
                         headers=bearer(a.key), json={"document": bad})
    assert refused.status_code == 400
    assert "properties[0]" in refused.json()["error"]["message"]
    assert ok(_get(base, a.key, f"/v1/tools/thing-models/{tm_id}"))["latest_version"] == 2
    empty = httpx.post(f"{base}/v1/tools/thing-models/generate", headers=bearer(a.key),
                       json={"text": "   "})
    assert empty.status_code == 400

    # Another tenant sees none of it.
    for path in (f"/v1/tools/thing-models/{tm_id}", f"/v1/tools/thing-models/{tm_id}/export",
                 f"/v1/tools/thing-models/{tm_id}/diff?from=1&to=2"):
        assert _get(base, b.key, path).status_code == 404
    assert ok(_get(base, b.key, "/v1/tools/thing-models"))["data"] == []
    assert len(ok(_get(base, a.key, "/v1/tools/thing-models"))["data"]) == 2

    # The model's call was metered and attributed to the tool.
    usage = ok(httpx.get(a.api("/usage?app=tool:thing_model"), headers=bearer(a.key)))
    assert usage["data"] and usage["data"][0]["model"] == "fake-chat"
    assert any(u["symbol"] == "°C" for u in ok(_get(base, a.key, "/v1/tools/units"))["data"])


def test_protocol_parsers_build_in_sandbox_download_and_errors(base: str) -> None:
    a, b = _tenant(base, "pp-a"), _tenant(base, "pp-b")
    meter = (EXAMPLES / "register_maps" / "power-meter.md").read_text(encoding="utf-8")
    built = _post(base, a.key, "/v1/tools/protocol-parsers", 201,
                  json={"source": {"filename": "power-meter.md", "content": meter},
                        "package": "pm3300"})
    assert built["passed"] is True, built["test_output"]
    assert built["isolation"] in ("bubblewrap", "rlimits") and "passed" in built["test_output"]
    archive = _get(base, a.key, built["download"])
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert "pm3300/tests/test_golden.py" in names and "pm3300/pm3300/codec.py" in names, names

    frame = (EXAMPLES / "frames" / "sensor-frame.yaml").read_bytes()
    framed = ok(httpx.post(f"{base}/v1/tools/protocol-parsers/upload", headers=bearer(a.key),
                           timeout=120, files={"file": ("sensor-frame.yaml", frame)}), 201)
    assert framed["passed"] is True and framed["kind"] == "frame"

    # Precise errors, each naming its row; nothing is stored for a refused map.
    broken = ("address,name,type,scale\n40001,voltage,uint16,0.1\n40002,power,int32,1\n"
              "40003,current,uint16,0.01\n40005,energy,uint32,x0.1\n40010,freq,int24,1\n")
    refused = httpx.post(f"{base}/v1/tools/protocol-parsers", headers=bearer(a.key), json={
        "source": {"filename": "broken.csv", "content": broken}})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    assert "row 6: type \"int24\" is not supported" in message
    assert "row 4" in message and "overlaps row 3" in message  # int32 at 40002-40003
    assert "row 5" in message and "x0.1" in message
    assert len(ok(_get(base, a.key, "/v1/tools/protocol-parsers"))["data"]) == 2

    # From a saved thing model: its numeric properties become registers.
    vfd = (EXAMPLES / "thing_models" / "vfd-drive.zh.md").read_text(encoding="utf-8")
    tm_id = _post(base, a.key, "/v1/tools/thing-models/generate",
                  json={"text": vfd, "save": True, "use_model": False})["saved"]["thing_model_id"]
    linked = _post(base, a.key, "/v1/tools/protocol-parsers", 201,
                   json={"thing_model_id": tm_id, "start_address": 100})
    assert linked["passed"] is True and linked["thing_model_id"] == tm_id

    assert _get(base, b.key, built["download"]).status_code == 404
    assert _get(base, b.key, f"/v1/tools/protocol-parsers/{built['id']}").status_code == 404
    bad_package = httpx.post(f"{base}/v1/tools/protocol-parsers", headers=bearer(a.key), json={
        "source": {"filename": "m.md", "content": meter}, "package": "../evil"})
    assert bad_package.status_code == 400


def test_diagnosis_assessment_report_compare(base: str) -> None:
    a, b = _tenant(base, "dx-a"), _tenant(base, "dx-b")
    example = yaml.safe_load((EXAMPLES / "diagnosis" / "answers-machining-sme.yaml")
                             .read_text(encoding="utf-8"))
    questionnaires = ok(_get(base, a.key, "/v1/tools/diagnosis/questionnaires"))["data"]
    assert [q["id"] for q in questionnaires] == ["sme-digital-level-2024"]
    scored = _post(base, a.key, "/v1/tools/diagnosis/score",
                   json={"answers": example["answers"]})["result"]
    first = _post(base, a.key, "/v1/tools/diagnosis/assessments", 201, json={
        "answers": example["answers"], "company": "<b>Acme</b> 精密", "language": "zh",
        "knowledge_bases": []})
    assert first["total"] == scored["total"] and first["level"] == scored["level"]
    assert first["narrative"] and first["model"] == "fake-chat"
    html = _get(base, a.key, first["report"]["html"])
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;Acme&lt;/b&gt;" in html.text and "<svg" in html.text
    assert str(scored["total"]) in html.text
    docx = _get(base, a.key, first["report"]["docx"])
    assert docx.status_code == 200 and docx.content[:2] == b"PK"

    better = {**example["answers"], "work_reporting": "terminal_scan",
              "equipment_data_collection": "key_auto"}
    second = _post(base, a.key, "/v1/tools/diagnosis/assessments", 201, json={
        "answers": better, "company": "Acme", "language": "en", "use_model": False,
        "knowledge_bases": []})
    assert second["total"] > first["total"] and second["model"] is None
    compared = ok(_get(base, a.key, "/v1/tools/diagnosis/compare",
                       params={"a": first["id"], "b": second["id"]}))
    assert compared["comparison"]
    assert [x["id"] for x in ok(_get(base, a.key, "/v1/tools/diagnosis/assessments"))
            ["data"]] == [second["id"], first["id"]]

    bad = httpx.post(f"{base}/v1/tools/diagnosis/assessments", headers=bearer(a.key), json={
        "answers": {**example["answers"], "bom_accuracy": 140, "no_such_question": 1},
        "company": "Acme", "knowledge_bases": []})
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert "bom_accuracy" in message and "no_such_question" in message
    assert len(ok(_get(base, a.key, "/v1/tools/diagnosis/assessments"))["data"]) == 2
    assert _get(base, b.key, first["report"]["html"]).status_code == 404
    assert _get(base, b.key, "/v1/tools/diagnosis/compare",
                params={"a": first["id"], "b": second["id"]}).status_code == 404


def test_tool_apps_run_their_tools_first(base: str) -> None:
    a = _tenant(base, "ta-a")
    for slug in TOOL_APPS:
        ok(httpx.post(f"{base}/v1/apps/{slug}/subscription", headers=bearer(a.key), json={}),
           201)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=a.key, max_retries=0)
    th = (EXAMPLES / "thing_models" / "th-sensor.en.md").read_text(encoding="utf-8")
    reply = client.chat.completions.create(model="app:thing-model-designer",
                                           messages=[{"role": "user", "content": th}])
    assert reply.model_extra["app_run"]["app"] == "thing-model-designer"
    runs = ok(_get(base, a.key, "/v1/apps/thing-model-designer/runs"))["data"]
    run = ok(_get(base, a.key, f"/v1/apps/thing-model-designer/runs/{runs[0]['id']}"))
    tool = next(s for s in run["steps"] if s["type"] == "tool")
    assert tool["tool"] == "thing_model" and tool["status"] == "ok"
    assert validate_platform(tool["data"]["thing_model"]) == []
    assert "temperature" in tool["result"]

    meter = (EXAMPLES / "register_maps" / "vfd-drive.csv").read_text(encoding="utf-8")
    client.chat.completions.create(model="app:protocol-parser-generator",
                                   messages=[{"role": "user", "content": meter}])
    runs = ok(_get(base, a.key, "/v1/apps/protocol-parser-generator/runs"))["data"]
    run = ok(_get(base, a.key, f"/v1/apps/protocol-parser-generator/runs/{runs[0]['id']}"))
    tool = next(s for s in run["steps"] if s["type"] == "tool")
    assert tool["data"]["passed"] is True, tool["result"]
    assert _get(base, a.key, tool["data"]["download"]).status_code == 200

    manifest = yaml.safe_load((REPO_ROOT / "apps" / "digital-level-assessment" / "app.yaml")
                              .read_text(encoding="utf-8"))
    example = yaml.safe_load((EXAMPLES / "diagnosis" / "answers-machining-sme.yaml")
                             .read_text(encoding="utf-8"))["answers"]
    inputs: dict[str, Any] = {"company_name": "Acme"}
    for field in manifest["input_form"][1:]:
        value = example.get(field["name"])
        value = value["value"] if isinstance(value, dict) else value
        if value is None:
            continue
        if field["type"] == "enum":
            value = next(o for o in field["options"] if o.split(": ")[0] == value)
        elif field["type"] == "multi":
            value = [o for o in field["options"] if o.split(": ")[0] in value]
        inputs[field["name"]] = value
    run = ok(httpx.post(f"{base}/v1/apps/digital-level-assessment/runs", headers=bearer(a.key),
                        json={"inputs": inputs}, timeout=60))
    tool = next(s for s in run["steps"] if s["type"] == "tool")
    assert tool["status"] == "ok", tool["result"]
    scored = _post(base, a.key, "/v1/tools/diagnosis/score", json={"answers": example})
    assert tool["data"]["result"]["total"] == scored["result"]["total"]
    assessments = ok(_get(base, a.key, "/v1/tools/diagnosis/assessments"))["data"]
    assert [x["id"] for x in assessments] == [tool["data"]["assessment_id"]]
