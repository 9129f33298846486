"""A gateway on real HTTP with the console, the fake engine, apps, a platform knowledge
base and two tenants, for the browser tests and the console's API-level tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maas.app import create_app
from maas.settings import Settings
from tests.conftest import ADMIN_KEY, write_fake_manifests
from tests.support.fake_engine import serve_in_thread
from tests.support.tenancy import TenantWorld, grant, make_plan, make_tenant

KB_YAML = """\
id: plant-safety
industry: manufacturing
title: {zh: 工厂安全规程, en: Plant safety rules}
description: {zh: 安全规程, en: Safety rules}
languages: [zh, en]
sources: [docs/]
splitter: {chunk_size: 300, chunk_overlap: 40}
embedding_model: fake-embed
"""
CHAT_APP = """\
slug: plant-safety-assistant
version: 1.0.0
title: {zh: 工厂安全助手, en: Plant safety assistant}
description: {zh: 依据工厂安全规程回答问题, en: Answers from the plant's safety rules}
industry: manufacturing
category: safety
model: fake-chat
knowledge_bases: [plant-safety]
tools: [kb_search]
pricing: {kind: per_run, credits: 1}
"""
FORM_APP = """\
slug: inspection-report
title: {zh: 点检报告, en: Inspection report}
description: {zh: 根据点检数据生成报告, en: Writes an inspection report from a few fields}
industry: manufacturing
category: report
kind: form
model: fake-chat
input_form:
  - {name: machine, label: {zh: 设备, en: Machine}, type: string, max_length: 50}
  - {name: hours, label: {zh: 运行小时, en: Running hours}, type: integer, minimum: 0,
     maximum: 100000}
  - {name: shift, label: {zh: 班次, en: Shift}, type: enum, options: [day, night]}
output: {type: document}
"""


@dataclass
class World:
    base: str
    engine: Any
    acme: TenantWorld
    globex: TenantWorld


def _write(root: Path) -> None:
    kb = root / "kbs" / "plant-safety"
    (kb / "docs").mkdir(parents=True)
    (kb / "kb.yaml").write_text(KB_YAML, encoding="utf-8")
    (kb / "docs" / "lockout.md").write_text(
        "# Lockout\n\nIsolate every energy source and apply a personal lock before opening "
        "the guard of press 7.\n", encoding="utf-8")
    for manifest, prompt in ((CHAT_APP, "You are {{app_title}}. Be brief.\n"),
                             (FORM_APP, "Write an inspection report for {{machine}} "
                                        "({{hours}} h, {{shift}} shift).\n")):
        folder = root / "apps" / manifest.split("\n")[0].split(": ")[1]
        folder.mkdir(parents=True)
        (folder / "app.yaml").write_text(manifest, encoding="utf-8")
        (folder / "prompt.md").write_text(prompt, encoding="utf-8")
        (folder / "README.md").write_text(
            f"# {folder.name}\n\nAn app for the plant floor.\n\n- cites its sources\n"
            "- answers in the question's language\n", encoding="utf-8")


@contextmanager
def console_world(root: Path, engine_url: str, engine: Any) -> Iterator[World]:
    write_fake_manifests(root / "models", engine_url)
    _write(root)
    settings = Settings(data_dir=root / "data", models_dir=root / "models",
                        knowledge_bases_dir=root / "kbs", apps_dir=root / "apps",
                        build_knowledge_bases=True, admin_api_key=ADMIN_KEY,
                        supervise_workers=False, health_interval=0.2, _env_file=None)
    with serve_in_thread(create_app(settings)) as base:
        make_plan(base, "growth", billing="prepaid", monthly_tokens=200000)
        acme = make_tenant(base, "acme", plan="growth")
        grant(base, "acme", 100)
        globex = make_tenant(base, "globex", plan="growth")
        grant(base, "globex", 10)
        yield World(base, engine, acme, globex)
