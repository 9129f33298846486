"""Supervisor: keeps one engine process per enabled local model alive and health-checked.

It reconciles desired state (the registry's enabled, available models) with running
processes every `health_interval` seconds, like a tiny controller: start what is missing,
stop what was disabled, restart a crashed worker with exponential back-off, and publish
each model's status to the registry and to the router (in memory, for the hot path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from maas.catalog.models import WORKER_ENGINES, EngineSpec, ModelManifest
from maas.engines.commands import engine_command, worker_env
from maas.engines.registry import FAILED, LOADING, READY, ModelRegistry
from maas.engines.vllm_server import Adapter
from maas.settings import Settings

log = logging.getLogger(__name__)

HEALTHY_RESET_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


@dataclass
class EngineProcess:
    """A supervised local engine process and its restart bookkeeping."""

    manifest: ModelManifest
    spec: EngineSpec
    log_path: Path
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    healthy_since: float | None = None
    restarts: int = 0
    next_start: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    def __init__(
        self, settings: Settings, registry: ModelRegistry, http: httpx.AsyncClient,
        command: Callable[..., list[str]] = engine_command,
        adapters: Callable[[str], Sequence[Adapter]] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.http = http
        self.command = command
        #: model id -> the (name, path) LoRA adapters its vLLM server starts with.
        self.adapters = adapters
        self.processes: dict[str, EngineProcess] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._side_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="maas-supervisor")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with self._lock:
            await asyncio.gather(*(self._terminate(p) for p in self.processes.values()))
            self.processes.clear()

    async def _loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # noqa: BLE001 - the loop must outlive any one bad pass
                log.exception("supervisor pass failed")
            await asyncio.sleep(self.settings.health_interval)

    # ------------------------------------------------------------------ reconcile

    def base_url(self, model_id: str) -> str | None:
        proc = self.processes.get(model_id)
        if proc is None or proc.process is None:
            return None
        return f"http://{self.settings.worker_host}:{proc.port}/v1"

    def is_ready(self, model_id: str) -> bool:
        proc = self.processes.get(model_id)
        return proc is not None and proc.ready.is_set()

    async def wait_ready(self, model_id: str, timeout: float) -> bool:
        proc = self.processes.get(model_id)
        if proc is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.ready.wait(), timeout)
        return proc.ready.is_set()

    def crashed(self, model_id: str) -> bool:
        """Whether the model's process is gone (exited, or a zombie not yet reaped)."""
        proc = self.processes.get(model_id)
        if proc is None or proc.process is None or proc.process.returncode is not None:
            return True
        try:
            state = Path(f"/proc/{proc.process.pid}/stat").read_text().split(") ")[-1][:1]
        except OSError:  # gone already, or no procfs (then returncode alone decides)
            return Path("/proc/self").exists()
        return state in ("Z", "X")

    def mark_unreachable(self, model_id: str) -> None:
        """A request could not connect: stop routing there and check the process now."""
        proc = self.processes.get(model_id)
        if proc is not None:
            proc.ready.clear()
        task = asyncio.create_task(self.reconcile())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def reconcile(self) -> None:
        async with self._lock:
            records = await asyncio.to_thread(self.registry.list)
            wanted: dict[str, tuple[ModelManifest, EngineSpec]] = {}
            for record in records:
                manifest = self.registry.manifests.get(record.id)
                if manifest is None or not record.enabled or record.engine is None:
                    continue
                spec = next(e for e in manifest.engines if e.kind == record.engine)
                if spec.kind in WORKER_ENGINES or spec.kind == "vllm":
                    wanted[record.id] = (manifest, spec)
                elif spec.kind == "remote":
                    await self._check_remote(record.id, spec, record.status)
            for model_id in list(self.processes):
                if model_id not in wanted:
                    await self._terminate(self.processes.pop(model_id))
            for model_id, (manifest, spec) in wanted.items():
                proc = self.processes.get(model_id)
                if proc is None:
                    log_dir = self.settings.data_dir / "logs"
                    log_dir.mkdir(parents=True, exist_ok=True)
                    proc = EngineProcess(manifest, spec, log_dir / f"{model_id}.log")
                    self.processes[model_id] = proc
                await self._tend(proc)

    async def _tend(self, proc: EngineProcess) -> None:
        now = time.monotonic()
        model_id = proc.manifest.id
        if proc.process is not None and proc.process.returncode is not None:
            code = proc.process.returncode
            proc.process = None
            proc.ready.clear()
            backoff = min(2.0 ** proc.restarts, self.settings.restart_backoff_max)
            proc.restarts += 1
            proc.next_start = now + backoff
            reason = f"engine process exited with code {code}; restarting in {backoff:.0f}s"
            detail = tail(proc.log_path)
            log.warning("%s: %s. Last log lines: %s", model_id, reason, detail)
            await asyncio.to_thread(self.registry.set_status, model_id, FAILED,
                                    f"{reason}. {detail}"[:2000])
        if proc.process is None:
            if now >= proc.next_start:
                await self._spawn(proc)
            return
        healthy = await self._healthy(proc)
        if healthy and not proc.ready.is_set():
            proc.ready.set()
            proc.healthy_since = now
            log.info("%s is ready on port %d", model_id, proc.port)
            await asyncio.to_thread(self.registry.set_status, model_id, READY, None)
        elif not healthy and proc.ready.is_set():
            proc.ready.clear()
            await asyncio.to_thread(self.registry.set_status, model_id, LOADING,
                                    "health check failing")
        elif not healthy and now - proc.started_at > self.settings.worker_start_timeout:
            log.error("%s did not become healthy in time; killing it", model_id)
            await self._terminate(proc, keep=True)
        if healthy and proc.healthy_since and now - proc.healthy_since > HEALTHY_RESET_SECONDS:
            proc.restarts = 0

    async def _check_remote(self, model_id: str, spec: EngineSpec, status: str) -> None:
        """A remote engine is ready while its `/models` answers."""
        assert spec.base_url is not None
        headers = {}
        if spec.api_key_env and os.environ.get(spec.api_key_env):
            headers["authorization"] = f"Bearer {os.environ[spec.api_key_env]}"
        try:
            response = await self.http.get(spec.base_url.rstrip("/") + "/models",
                                           headers=headers, timeout=5.0)
            ok, reason = response.status_code == 200, f"/models answered {response.status_code}"
        except httpx.HTTPError as exc:
            ok, reason = False, f"unreachable: {exc!r}"
        new = (READY, None) if ok else (FAILED, f"remote engine {spec.base_url} {reason}")
        await asyncio.to_thread(self.registry.set_status, model_id, *new)

    async def _spawn(self, proc: EngineProcess) -> None:
        proc.port = free_port(self.settings.worker_host)
        extra: dict[str, Sequence[Adapter]] = {}
        if proc.spec.kind == "vllm" and self.adapters is not None:
            extra["adapters"] = self.adapters(proc.manifest.id)
        argv = self.command(proc.manifest, proc.spec, self.settings,
                            self.settings.worker_host, proc.port, **extra)
        log.info("starting %s: %s", proc.manifest.id, " ".join(argv))
        log_file = proc.log_path.open("ab")
        try:
            proc.process = await asyncio.create_subprocess_exec(
                *argv, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                env=worker_env(self.settings), start_new_session=True,
            )
        finally:
            log_file.close()
        proc.started_at = time.monotonic()
        proc.healthy_since = None
        await asyncio.to_thread(self.registry.set_status, proc.manifest.id, LOADING,
                                f"starting (pid {proc.process.pid}, log {proc.log_path})")

    async def _healthy(self, proc: EngineProcess) -> bool:
        url = f"http://{self.settings.worker_host}:{proc.port}/health"
        try:
            response = await self.http.get(url, timeout=5.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _terminate(self, proc: EngineProcess, keep: bool = False) -> None:
        """SIGTERM the process group, SIGKILL after a grace period."""
        process = proc.process
        proc.ready.clear()
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if not keep:
            proc.process = None
