"""Supervisor: keeps one engine process per enabled local model alive and health-checked.

It reconciles desired state (the registry's enabled, available models) with running
processes every `health_interval` seconds, like a tiny controller: start what is missing,
stop what was disabled, restart a crashed worker with exponential back-off, and publish
each model's status to the registry and to the router (in memory, for the hot path).

LoRA models (industry models, tenants' fine-tunes) whose engine is `vllm` get no process:
they are *hosted* by their base's vLLM server. Each pass loads the adapters the base should
serve (`adapters(base_id)`) into its server at run time and unloads the ones that went away;
a server started with them serves them from its command line. When more adapters are wanted
than the server has LoRA slots for, it is restarted with all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from maas.catalog.models import WORKER_ENGINES, EngineSpec, ModelManifest
from maas.engines.commands import engine_command, worker_env
from maas.engines.registry import FAILED, LOADING, READY, ModelRegistry
from maas.engines.vllm_server import Adapter, lora_capacity, wants_runtime_lora
from maas.processes import stop_process_group
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
    #: vLLM only: adapter name -> path of what the server has loaded, and its LoRA slots.
    loras: dict[str, str] = field(default_factory=dict)
    lora_slots: int = 0


@dataclass
class HostedModel:
    """A LoRA model served by its base's vLLM server (no process of its own)."""

    base: str
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
        #: vLLM base model id -> the (name, path) LoRA adapters its server should serve.
        self.adapters: Callable[[str], Sequence[Adapter]] = adapters or (lambda _base: ())
        self.processes: dict[str, EngineProcess] = {}
        self.hosted: dict[str, HostedModel] = {}
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

    def _process(self, model_id: str) -> EngineProcess | None:
        """The process serving `model_id`: its own, or its base's for a hosted LoRA."""
        hosted = self.hosted.get(model_id)
        return self.processes.get(hosted.base if hosted else model_id)

    def supervises(self, model_id: str) -> bool:
        """Whether a local process of ours serves this model (so a restart can fix it)."""
        return self._process(model_id) is not None

    def base_url(self, model_id: str) -> str | None:
        proc = self._process(model_id)
        if proc is None or proc.process is None:
            return None
        return f"http://{self.settings.worker_host}:{proc.port}/v1"

    def is_ready(self, model_id: str) -> bool:
        hosted = self.hosted.get(model_id)
        if hosted is not None:
            return hosted.ready.is_set() and self.is_ready(hosted.base)
        proc = self.processes.get(model_id)
        return proc is not None and proc.ready.is_set()

    async def wait_ready(self, model_id: str, timeout: float) -> bool:
        hosted = self.hosted.get(model_id)
        event = hosted.ready if hosted else getattr(self.processes.get(model_id), "ready", None)
        if event is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return self.is_ready(model_id)

    def crashed(self, model_id: str) -> bool:
        """Whether the model's process is gone (exited, or a zombie not yet reaped)."""
        proc = self._process(model_id)
        if proc is None or proc.process is None or proc.process.returncode is not None:
            return True
        try:
            state = Path(f"/proc/{proc.process.pid}/stat").read_text().split(") ")[-1][:1]
        except OSError:  # gone already, or no procfs (then returncode alone decides)
            return Path("/proc/self").exists()
        return state in ("Z", "X")

    def mark_unreachable(self, model_id: str) -> None:
        """A request could not connect: stop routing there and check the process now."""
        proc = self._process(model_id)
        if proc is not None:
            proc.ready.clear()
        task = asyncio.create_task(self.reconcile())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def reconcile(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self.registry.refresh)
            records = await asyncio.to_thread(self.registry.list)
            wanted: dict[str, tuple[ModelManifest, EngineSpec]] = {}
            hosted: dict[str, str] = {}  # LoRA model id -> its base
            for record in records:
                manifest = self.registry.manifests.get(record.id)
                if manifest is None or not record.enabled or record.engine is None:
                    continue
                spec = next(e for e in manifest.engines if e.kind == record.engine)
                if spec.kind == "vllm" and manifest.base is not None:
                    hosted[record.id] = manifest.base
                elif spec.kind in WORKER_ENGINES or spec.kind == "vllm":
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
            await self._tend_hosted(hosted)

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

    async def _tend_hosted(self, hosted: dict[str, str]) -> None:
        """Keep each vLLM base's loaded adapters equal to what it should serve, and publish
        the hosted models' status."""
        for model_id in list(self.hosted):
            if model_id not in hosted:
                self.hosted.pop(model_id).ready.clear()
        for model_id, base in hosted.items():
            self.hosted.setdefault(model_id, HostedModel(base))
        failed: dict[str, str] = {}
        for proc in list(self.processes.values()):
            if proc.spec.kind == "vllm" and proc.ready.is_set():
                failed |= await self._sync_loras(proc)
        for model_id, model in self.hosted.items():
            proc = self.processes.get(model.base)
            if model_id in failed:
                status = (FAILED, failed[model_id])
            elif proc is None or proc.spec.kind != "vllm":
                status = (FAILED, f"its base {model.base} is not served by vLLM here")
            elif proc.ready.is_set() and model_id in proc.loras:
                status = (READY, None)
            else:
                status = (LOADING, f"waiting for the vLLM server of {model.base}")
            if status[0] == READY:
                model.ready.set()
            else:
                model.ready.clear()
            await asyncio.to_thread(self.registry.set_status, model_id, *status)

    async def _sync_loras(self, proc: EngineProcess) -> dict[str, str]:
        """Load and unload adapters on a ready vLLM server; model id -> error for failures.

        More adapters than LoRA slots: restart the server (it comes back with them all on
        its command line) rather than risk a batch with no free slot for the base.
        """
        want = {name: str(path) for name, path in self.adapters(proc.manifest.id)}
        if len(want) > proc.lora_slots:
            log.info("%s: %d adapters wanted, %d LoRA slots; restarting it with them all",
                     proc.manifest.id, len(want), proc.lora_slots)
            await self._terminate(proc)
            return {}
        root = f"http://{self.settings.worker_host}:{proc.port}/v1"
        failed: dict[str, str] = {}
        for name in [n for n in proc.loras if want.get(n) != proc.loras[n]]:
            ok, detail = await self._lora_call(f"{root}/unload_lora_adapter", {"lora_name": name})
            if ok or "not found" in detail.lower():
                del proc.loras[name]
                log.info("%s: unloaded adapter %s", proc.manifest.id, name)
        for name, path in want.items():
            if name in proc.loras:
                continue
            ok, detail = await self._lora_call(f"{root}/load_lora_adapter",
                                               {"lora_name": name, "lora_path": path})
            if ok or "already" in detail.lower():
                proc.loras[name] = path
                log.info("%s: loaded adapter %s from %s", proc.manifest.id, name, path)
            else:
                failed[name] = f"vLLM refused the adapter: {detail}"[:2000]
        return failed

    async def _lora_call(self, url: str, body: dict[str, str]) -> tuple[bool, str]:
        try:
            response = await self.http.post(url, json=body, timeout=120.0)
        except httpx.HTTPError as exc:
            return False, repr(exc)
        return response.status_code == 200, response.text[:1000]

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
        proc.loras, proc.lora_slots = {}, 0
        if proc.spec.kind == "vllm":
            adapters = list(self.adapters(proc.manifest.id))
            if adapters:
                extra["adapters"] = adapters
            proc.loras = {name: str(path) for name, path in adapters}
            proc.lora_slots = lora_capacity(
                len(adapters), wants_runtime_lora(proc.manifest, proc.spec),
                self.settings.vllm_lora_headroom)
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
        """Stop the engine's process group (SIGTERM, SIGKILL after a grace period).

        An engine that already exited is left as it is, for `_tend` to see its exit code."""
        process = proc.process
        proc.ready.clear()
        if process is None or process.returncode is not None:
            return
        await stop_process_group(process, STOP_GRACE_SECONDS)
        if not keep:
            proc.process = None
