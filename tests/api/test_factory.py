"""The software factory over real HTTP: scripted conversations in English and Chinese end in
a confirmed spec and a generated project whose own tests pass in the sandbox; a change
request shows its spec diff and regenerates; hostile names are refused or neutralised;
publishing makes a private app; tenants cannot see each other's sessions."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from maas.app import build_services, create_app
from maas.factory.spec import RESERVED
from maas.settings import Settings
from tests.conftest import ADMIN_KEY, write_fake_manifests
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import bearer, grant, make_plan, make_tenant, ok

EN = [
    "I need an equipment inspection system: devices, inspection plans, inspection records "
    "with defects and photos, overdue report.",
    "A device has name (required), serial number (required, unique), location, installed on "
    "(date), status (in service/retired, required).",
    "An inspection plan has title (required), interval days (1-365, required), next due date "
    "(date, required), status (active/paused/done, required).\n"
    "Each inspection plan belongs to a device.",
    "An inspection record has inspector (required), inspected at (datetime, required), "
    "passed (yes/no), notes.\nEach inspection record belongs to an inspection plan.",
    "A defect has description (long text, required), severity (low/medium/high, required).",
    "Overdue report: inspection plans whose next due date is before today and status is not "
    "done.",
    "Roles: admin can do everything; inspector can read devices and inspection plans, create "
    "and update inspection records and defects.",
]
ZH = [
    "我需要一个设备巡检系统：设备、巡检计划、巡检记录（含缺陷和照片）、逾期报表。",
    "设备：名称（必填）、编号（必填，唯一）、位置、安装日期（日期）、状态（在用/停用，必填）。",
    "巡检计划：标题（必填）、周期天数（1-365，必填）、下次巡检日期（日期，必填）、"
    "状态（启用/暂停/已完成，必填）。\n巡检计划属于设备。",
    "巡检记录：巡检员（必填）、巡检时间（日期时间，必填）、是否合格（是/否）、备注（长文本）。\n"
    "巡检记录属于巡检计划。",
    "缺陷：描述（长文本，必填）、严重程度（低/中/高，必填）。",
    "逾期报表：下次巡检日期早于今天且状态不是已完成的巡检计划。",
    "角色：管理员可以做所有事；巡检员可以查看设备和巡检计划，新建和修改巡检记录和缺陷。",
]


@pytest.fixture
def engine(fake_engine: tuple[str, Any]) -> Any:
    return fake_engine[1]


@pytest.fixture
def base(tmp_path: Path, fake_engine: tuple[str, Any]) -> Iterator[str]:
    url, fake = fake_engine
    fake.state.decisions = []
    write_fake_manifests(tmp_path / "models", url)
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models",
                        knowledge_bases_dir=tmp_path / "kbs", apps_dir=tmp_path / "apps",
                        build_knowledge_bases=False, admin_api_key=ADMIN_KEY,
                        supervise_workers=False, tool_model="fake-chat", _env_file=None)
    with serve_in_thread(create_app(settings, services=build_services(settings))) as served:
        yield served


def _key(base: str, tenant_id: str) -> str:
    make_plan(base, f"plan-{tenant_id}")
    return make_tenant(base, tenant_id, plan=f"plan-{tenant_id}").key


def _call(base: str, key: str, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    response = httpx.request(method, f"{base}/v1/factory/sessions{path}", headers=bearer(key),
                             timeout=300, **kw)
    return ok(response, status)


def _converse(base: str, key: str, messages: list[str], language: str) -> str:
    session = _call(base, key, "POST", "", 201, json={"language": language})
    for text in messages:
        reply = _call(base, key, "POST", f"/{session['id']}/messages", json={"content": text})
        assert reply["changes"] and not reply["not_understood"], reply["reply"]
    return session["id"]


def test_english_conversation_to_a_tested_zip(base: str, tmp_path: Path) -> None:
    key = _key(base, "acme")
    sid = _converse(base, key, EN[:-1], "en")
    # The last message streams its reply; the final event carries the whole turn.
    with httpx.stream("POST", f"{base}/v1/factory/sessions/{sid}/messages", headers=bearer(key),
                      json={"content": EN[-1] + "\nconfirm", "stream": True}) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    final = json.loads(events[-2])
    assert "".join(json.loads(e)["delta"] for e in events[:-2]) == final["reply"]
    assert final["session"]["confirmed"] is True
    spec = _call(base, key, "GET", f"/{sid}/spec")["spec"]
    entities = {e["name"]: e for e in spec["entities"]}
    assert set(entities) == {"device", "inspection_plan", "inspection_record", "defect"}
    assert {f["name"]: f["type"] for f in entities["inspection_record"]["fields"]} == {
        "photo": "image", "inspector": "string", "inspected_at": "datetime",
        "passed": "boolean", "notes": "text", "inspection_plan": "reference"}
    assert spec["reports"][0]["where"] == [
        {"field": "next_due_date", "op": "lt", "value": "today"},
        {"field": "status", "op": "ne", "value": "done"}]
    build = _call(base, key, "POST", f"/{sid}/generate", 201)
    assert build["passed"] is True, build["test_output"]
    assert build["isolation"] in ("bubblewrap", "rlimits") and " passed" in build["test_output"]
    archive = httpx.get(f"{base}{build['download']}", headers=bearer(key))
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    assert {"equipment_inspection_system/README.md", "equipment_inspection_system/Dockerfile",
            "equipment_inspection_system/equipment_inspection_system/models.py",
            "equipment_inspection_system/tests/test_api.py"} <= set(names)


def test_chinese_conversation_and_a_change_request(base: str) -> None:
    key = _key(base, "zhco")
    sid = _converse(base, key, ZH, "zh")
    assert _call(base, key, "GET", f"/{sid}")["problems"] == []
    confirmed = _call(base, key, "POST", f"/{sid}/messages", json={"content": "确认"})
    assert "已确认" in confirmed["reply"] and confirmed["session"]["confirmed"]
    first = _call(base, key, "POST", f"/{sid}/generate", 201)
    assert first["passed"], first["test_output"]
    version = confirmed["session"]["spec_version"]

    change = _call(base, key, "POST", f"/{sid}/messages",
                   json={"content": "给巡检记录增加一个整改期限（日期）"})
    assert change["changes"] == [
        "+ entities.inspection_record.fields.rectification_deadline (date) (整改期限)"]
    assert change["session"]["confirmed"] is False
    _call(base, key, "POST", f"/{sid}/generate", 409)  # a changed spec must be confirmed again
    diff = _call(base, key, "GET", f"/{sid}/diff", params={"from": version, "to": version + 1})
    assert diff["changes"] == change["changes"]
    _call(base, key, "POST", f"/{sid}/confirm", json={"version": version + 1})
    second = _call(base, key, "POST", f"/{sid}/generate", 201)
    assert second["passed"] and second["spec_version"] == version + 1, second["test_output"]
    builds = _call(base, key, "GET", f"/{sid}/builds")["data"]
    assert [b["spec_version"] for b in builds] == [version + 1, version]


def test_hostile_names_are_refused_or_neutralised(base: str) -> None:
    key = _key(base, "evil")
    sid = _call(base, key, "POST", "", 201, json={})["id"]
    spec = json.loads(Path("tests/fixtures/factory/inspection-spec.json").read_text())
    bad = json.loads(json.dumps(spec))
    bad["entities"][0]["fields"][0]["name"] = "__import__('os').system('id')"
    error = _call(base, key, "PUT", f"/{sid}/spec", 400, json={"spec": bad})["error"]
    assert error["param"] == "spec.entities.0.fields.0.name"
    for name in ("../../etc/passwd", "class", "id", "{{ config }}"):
        bad["entities"][0]["fields"][0]["name"] = name
        _call(base, key, "PUT", f"/{sid}/spec", 400, json={"spec": bad})
    # Free text may say anything: it only ever becomes an escaped literal.
    spec["title"] = "{{ 7*7 }} {% raw %} \"\"\" '; import os"
    spec["entities"][0]["fields"][0]["label"] = "<script>alert(1)</script> \"\"\"\\"
    spec["entities"][0]["fields"][0]["description"] = "{{ self.__init__.__globals__ }}"
    _call(base, key, "PUT", f"/{sid}/spec", json={"spec": spec})
    _call(base, key, "POST", f"/{sid}/confirm", json={})
    build = _call(base, key, "POST", f"/{sid}/generate", 201)
    assert build["passed"], build["test_output"]
    # In conversation, a hostile name is turned into a plain identifier.
    chat = _call(base, key, "POST", f"/{sid}/messages",
                 json={"content": "add __import__('os').system('rm -rf /') (text) to device"})
    added = [c.split()[1].rsplit(".", 1)[1] for c in chat["changes"]
             if c.startswith("+ entities.device.fields.")]
    assert len(added) == 1 and re.fullmatch(r"[a-z][a-z0-9_]*", added[0]), chat["changes"]
    assert "__" not in added[0] and added[0] not in RESERVED
    _call(base, key, "POST", f"/{sid}/confirm", json={})
    again = _call(base, key, "POST", f"/{sid}/generate", 201)
    assert again["passed"], again["test_output"]


def test_publish_and_isolation(base: str) -> None:
    key, other = _key(base, "pub"), _key(base, "other")
    sid = _call(base, key, "POST", "", 201, json={})["id"]
    spec = json.loads(Path("tests/fixtures/factory/inspection-spec.json").read_text())
    _call(base, key, "PUT", f"/{sid}/spec", json={"spec": spec})
    _call(base, key, "POST", f"/{sid}/generate", 409)  # not confirmed
    _call(base, key, "POST", f"/{sid}/confirm", json={})
    build = _call(base, key, "POST", f"/{sid}/generate", 201)
    app = _call(base, key, "POST", f"/{sid}/builds/{build['id']}/publish", 201, json={})
    assert app["slug"] == "equipment-inspection" and app["status"] == "private"
    _call(base, key, "POST", f"/{sid}/builds/{build['id']}/publish", 409, json={})
    for path in (f"/{sid}", f"/{sid}/spec", f"/{sid}/builds/{build['id']}/download",
                 f"/{sid}/messages"):
        assert _call(base, other, "GET", path, 404)["error"]["code"] == "not_found"
    assert _call(base, other, "GET", "")["data"] == []
    _call(base, key, "POST", f"/{sid}/messages", 400, json={"content": ""})
    _call(base, key, "POST", f"/{sid}/messages", 400, json={"content": "x", "extra": 1})


def test_model_words_descriptions_and_messages_as_a_new_version(base: str, engine: Any) -> None:
    key = _key(base, "wordy")
    sid = _call(base, key, "POST", "", 201, json={})["id"]
    spec = json.loads(Path("tests/fixtures/factory/inspection-spec.json").read_text())
    _call(base, key, "PUT", f"/{sid}/spec", json={"spec": spec})
    assert _call(base, key, "POST", f"/{sid}/wording", 402, json={})["error"]["code"]
    grant(base, "wordy", 100)
    _call(base, key, "POST", f"/{sid}/confirm", json={})
    engine.state.decisions.append({"content": json.dumps({
        "entities": {"device": "A machine on the shop floor that is inspected.",
                     "inspection_plan": "<script>x</script>",
                     "inspection_record": "检查记录", "defect": "A fault found."},
        "reports": {"overdue": "Plans whose next inspection date has passed."},
        "messages": {},
        "samples": {"device": [
            {"name": "Boiler feed pump", "serial_number": "BFP-01", "location": "Hall A"},
            {"name": "Air compressor", "serial_number": "BFP-01", "location": "Hall B"},
            {"name": "<b>bad</b>", "serial_number": "CV-7", "location": "Yard"}]}})})
    worded = _call(base, key, "POST", f"/{sid}/wording", json={})
    assert worded["changes"] == [

        '~ entities.device.description: "" -> "A machine on the shop floor that is inspected."',
        '~ entities.defect.description: "" -> "A fault found."',
        '~ reports.overdue.description: "" -> "Plans whose next inspection date has passed."',
        '~ sample_data: {} -> {"device": 3, "inspection_plan": 3, "inspection_record": 3, '
        '"defect": 3}']
    rows = _call(base, key, "GET", f"/{sid}/spec")["spec"]["sample_data"]["device"]
    assert [r["name"] for r in rows] == ["Boiler feed pump", "Air compressor", "Name 3"]
    # A value the model gave twice is not an example: those rows keep the built-in ones.
    assert [r["serial_number"] for r in rows] == ["DEV-001", "DEV-002", "CV-7"]
    _call(base, key, "POST", f"/{sid}/confirm", json={})
    build = _call(base, key, "POST", f"/{sid}/generate", 201)
    assert build["passed"], build["test_output"]  # the worded spec still makes a passing project
    assert worded["confirmed"] is False and worded["notes"][0].startswith("kept 3 of")
    request = engine.state.requests[-1]
    assert request["response_format"]["type"] == "json_schema"
    usage = ok(httpx.get(f"{base}/api/v1/tenants/wordy/usage?app=tool:factory",
                         headers=bearer(key)))
    assert usage["data"] and usage["data"][0]["model"] == "fake-chat"
    # A model that answers garbage changes nothing.
    engine.state.decisions.append({"content": "not json"})
    again = _call(base, key, "POST", f"/{sid}/wording", json={})
    assert again["changes"] == [] and "no usable answer" in again["notes"][0]
    _call(base, key, "PUT", f"/{sid}/spec", 409, json={"spec": spec, "version": 1})
