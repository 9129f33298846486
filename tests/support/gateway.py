"""A real `maas serve` process for integration tests, ready when its /readyz says so."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from maas.settings import REPO_ROOT
from tests.support.fake_engine import free_port


@contextmanager
def serve_gateway(env: dict[str, str], data: Path, ready_within: float) -> Iterator[str]:
    """Start `maas serve` with `env` (log in `data/serve.log`), wait until every model is
    ready, yield its base URL, and stop it with SIGTERM on exit."""
    port = free_port()
    log = (data / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "maas", "serve", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline, body = time.time() + ready_within, None
    try:
        while time.time() < deadline:
            assert proc.poll() is None, (data / "serve.log").read_text()[-3000:]
            try:
                response = httpx.get(f"{base}/readyz", timeout=5)
                body = response.json()
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        else:
            pytest.fail(f"gateway never ready: {body}")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
