"""A generated project as a new user meets it: unzip, install with pip, seed the sample data,
run the service with uvicorn and use it over HTTP (records, validation, roles, the report)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from maas.factory.build import build_project
from maas.factory.spec import parse_spec
from tests.support.fake_engine import free_port

SPEC = Path(__file__).parents[1] / "fixtures" / "factory" / "inspection-spec.json"
ADMIN, INSPECTOR = "admin-secret-0123456789", "inspector-secret-0123456789"


@pytest.mark.slow
def test_unzip_install_seed_and_serve(tmp_path: Path) -> None:
    spec = parse_spec(json.loads(SPEC.read_text(encoding="utf-8")))
    build = build_project(spec, 1, tmp_path / "build", run_tests=False)
    zipfile.ZipFile(io.BytesIO(build.zip_bytes)).extractall(tmp_path / "unpacked")
    project = tmp_path / "unpacked" / spec.name
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(site), str(project)],
                   check=True, timeout=300, cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(site), "DATABASE_URL": f"sqlite:///{tmp_path}/a.db",
           "UPLOAD_DIR": str(tmp_path / "uploads"),
           "APP_TOKENS": f"admin={ADMIN};inspector={INSPECTOR}"}
    seeded = subprocess.run([sys.executable, "-m", spec.name, "seed"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=True)
    assert "devices: 3" in seeded.stdout
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", f"{spec.name}.main:create_app",
                               "--factory", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        inspector = {"Authorization": f"Bearer {INSPECTOR}"}
        assert httpx.get(f"{base}/api/devices", headers=admin).json()["total"] == 3
        device = httpx.post(f"{base}/api/devices", headers=admin, json={
            "name": "Pump 7", "serial_number": "P-7", "status": "in service"}).json()
        late = (date.today() - timedelta(days=3)).isoformat()
        plan = httpx.post(f"{base}/api/inspection_plans", headers=admin, json={
            "device_id": device["id"], "title": "Monthly pump check", "interval_days": 30,
            "next_due": late, "status": "active"}).json()
        bad = httpx.post(f"{base}/api/defects", headers=inspector,
                         json={"inspection_record_id": 1, "description": "leak",
                               "severity": "urgent"})
        assert bad.status_code == 422
        assert "Severity must be low, medium or high" in bad.text
        assert httpx.post(f"{base}/api/devices", headers=inspector, json={
            "name": "X", "serial_number": "X", "status": "retired"}).status_code == 403
        overdue = httpx.get(f"{base}/api/reports/overdue", headers=inspector).json()
        assert plan["id"] in [row["id"] for row in overdue["items"]]
        assert httpx.get(f"{base}/admin/login").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
