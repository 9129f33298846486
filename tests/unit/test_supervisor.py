"""The supervisor with real processes (a fake engine, so no model is needed): start,
health-check, restart after SIGKILL, stop on disable and on shutdown."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import httpx
import openai

from maas.app import build_services, create_app
from maas.settings import REPO_ROOT, Settings
from tests.conftest import ADMIN_KEY
from tests.support.fake_engine import serve_in_thread


def fake_command(manifest, spec, settings, host, port):  # noqa: ANN001, ANN201
    return [sys.executable, "-m", "tests.support.fake_worker", "--host", host, "--port", str(port)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is not alive
        return handle.read().split()[2] != "Z"


def wait_for(predicate, timeout: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def local_model(tmp_path: Path, model_id: str, command, interval: float):  # noqa: ANN001, ANN201
    """Settings and services for one local (supervised) model run by `command`."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"x")
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{model_id}.yaml").write_text(
        f"id: {model_id}\nkind: chat\nfamily: f\ncontext_length: 512\n"
        "pricing: {input_per_1k: 0, output_per_1k: 0}\n"
        f"source: {{path: '{weights}'}}\nengines: [{{kind: transformers}}]\n")
    settings = Settings(data_dir=tmp_path / "data", models_dir=models, admin_api_key=ADMIN_KEY,
                        health_interval=interval, restart_backoff_max=1.0, _env_file=None)
    svc = build_services(settings)
    svc.supervisor.command = command
    return settings, svc


def test_worker_lifecycle(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(REPO_ROOT)
    settings, svc = local_model(tmp_path, "local-chat", fake_command, 0.2)
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    with serve_in_thread(create_app(settings, services=svc)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=ADMIN_KEY, max_retries=0)
        wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200)
        ask = {"model": "local-chat", "messages": [{"role": "user", "content": "ping"}]}
        assert client.chat.completions.create(**ask).choices[0].message.content == "echo: ping"

        pid = svc.supervisor.processes["local-chat"].process.pid
        os.kill(pid, signal.SIGKILL)
        # The very next request waits for the restart instead of failing.
        assert client.chat.completions.create(**ask).choices[0].message.content == "echo: ping"
        new_pid = svc.supervisor.processes["local-chat"].process.pid
        assert new_pid != pid and svc.supervisor.processes["local-chat"].restarts == 1
        log_text = (settings.data_dir / "logs" / "local-chat.log").exists()
        assert log_text

        r = httpx.post(f"{base}/admin/v1/models/local-chat/disable", headers=admin)
        assert r.status_code == 200 and r.json()["enabled"] is False
        wait_for(lambda: not alive(new_pid))
        r = httpx.post(f"{base}/v1/chat/completions", json=ask, headers=admin)
        assert r.status_code == 404 and "disabled" in r.json()["error"]["message"]
        r = httpx.post(f"{base}/admin/v1/models/local-chat/enable", headers=admin)
        assert r.json()["enabled"] is True
        assert client.chat.completions.create(**ask).choices[0].message.content == "echo: ping"
        last_pid = svc.supervisor.processes["local-chat"].process.pid
        # Admin endpoints refuse non-admin keys.
        created = httpx.post(f"{base}/api/v1/tenants/default/keys", headers=admin,
                             json={"name": "member"}).json()
        r = httpx.post(f"{base}/admin/v1/models/local-chat/disable",
                       headers={"authorization": f"Bearer {created['key']}"})
        assert r.status_code == 403
    wait_for(lambda: not alive(last_pid), timeout=15)


def test_crash_loop_reports_failure_reason(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys; print('weights are corrupt'); sys.exit(3)"]
    settings, svc = local_model(tmp_path, "broken", lambda *a: crash, 0.1)
    with serve_in_thread(create_app(settings, services=svc)) as base:
        def failed() -> bool:
            info = httpx.get(f"{base}/readyz").json()["models"]["broken"]
            return info["status"] == "failed" and "weights are corrupt" in (info["reason"] or "")

        wait_for(failed, timeout=20)
        assert svc.supervisor.processes["broken"].restarts >= 1
