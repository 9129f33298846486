"""The gateway's fine-tuning runner: claims queued jobs, trains each in a subprocess,
records its log, and on success registers the private model and charges the job.

Several gateways may share one database: a job is claimed with a conditional UPDATE
(`status='queued'` -> `running`, with this runner's id), so exactly one gateway wins it.
The owner refreshes `heartbeat_at` every poll; a running job whose heartbeat is older
than `fine_tuning_stale_after` lost its gateway (crash, restart) and is failed by any
runner with a clear error. Cancelling is a row change made by whichever gateway got the
request; the owner sees it at its next heartbeat and kills the process group.

The subprocess reports progress as JSON lines on its stdout (see `protocol`), which this
runner turns into event rows: the subprocess needs no database access, and one writer per
job keeps the log ordered. Its stderr (tqdm, library warnings) goes to `train.log` in the
job's work directory, whose tail becomes the error of a crashed run. The adapter is
written inside the work directory and renamed into `fine_tuning/models/` only after a
clean exit, so a killed or failed run never leaves a model behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from maas.catalog.models import ModelManifest
from maas.db.database import Database
from maas.db.tables import FineTuneFile, FineTuneJob, Plan, Tenant, utcnow
from maas.engines.registry import ModelRegistry
from maas.finetune.jobs import service
from maas.finetune.jobs.protocol import parse
from maas.processes import stop_process_group
from maas.settings import Settings

log = logging.getLogger(__name__)

TRAINER = "maas.finetune.jobs.train"
KILL_GRACE = 5.0
LOG_TAIL = 1500


@dataclass
class Running:
    job_id: str
    tenant_id: str
    process: asyncio.subprocess.Process | None = None
    stopping: bool = False  # cancelled (or the gateway stops): keep nothing
    task: asyncio.Task[None] | None = None
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None


def work_dir(data_dir: Path, job_id: str) -> Path:
    return data_dir / "fine_tuning" / "work" / job_id


def model_dir(data_dir: Path, tenant_id: str, model_id: str) -> Path:
    return data_dir / "fine_tuning" / "models" / tenant_id / model_id


class FineTuningRunner:
    """Started and stopped by the gateway's lifespan; `trainer` is the subprocess module."""

    def __init__(self, settings: Settings, db: Database, registry: ModelRegistry,
                 trainer: str = TRAINER) -> None:
        self.settings, self.db, self.registry, self.trainer = settings, db, registry, trainer
        self.runner_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.running: dict[str, Running] = {}
        self._loop_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self.settings.fine_tuning_max_running > 0:
            self._loop_task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop polling; kill this gateway's training processes and fail their jobs (a job
        is not resumable: its user creates it again)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for run in list(self.running.values()):
            run.stopping = True
            await self._kill(run)
            if run.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(run.task, KILL_GRACE * 2)
            await asyncio.to_thread(self._fail, run.job_id, "gateway_stopped",
                                    "the gateway running this job stopped before it "
                                    "finished; nothing was kept. Create the job again.")

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("fine-tuning runner pass failed; retrying")
            await asyncio.sleep(self.settings.fine_tuning_poll_interval)

    async def tick(self) -> None:
        """One pass: fail orphans, heartbeat (and notice cancels), claim new work."""
        await asyncio.to_thread(self.sweep_orphans)
        for run in list(self.running.values()):
            if not await asyncio.to_thread(self._heartbeat, run.job_id) and not run.stopping:
                run.stopping = True
                await self._kill(run)
        while len(self.running) < self.settings.fine_tuning_max_running:
            claimed = await asyncio.to_thread(self._claim)
            if claimed is None:
                break
            run = Running(claimed.id, claimed.tenant_id)
            self.running[claimed.id] = run
            run.task = asyncio.create_task(self._run(run, claimed))

    # ------------------------------------------------------------------ database

    def _claim(self) -> FineTuneJob | None:
        with self.db.session() as session:
            queued = list(session.exec(select(FineTuneJob.id).where(
                FineTuneJob.status == "queued").order_by(col(FineTuneJob.created_at))
                .limit(5)))
        for job_id in queued:
            with self.db.session() as session:
                now = utcnow()
                won = session.execute(update(FineTuneJob).where(
                    col(FineTuneJob.id) == job_id, col(FineTuneJob.status) == "queued").values(
                    status="running", runner_id=self.runner_id, started_at=now,
                    heartbeat_at=now))
                if won.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # another gateway took it, or it was cancelled
                job = session.get(FineTuneJob, job_id)
                assert job is not None
                service.add_event(session, job, "Fine-tuning job started")
                session.flush()
                session.expunge(job)
                return job
        return None

    def _heartbeat(self, job_id: str) -> bool:
        """Refresh our claim; False when the job is no longer ours and running (cancelled)."""
        with self.db.session() as session:
            result = session.execute(update(FineTuneJob).where(
                col(FineTuneJob.id) == job_id, col(FineTuneJob.status) == "running",
                col(FineTuneJob.runner_id) == self.runner_id).values(heartbeat_at=utcnow()))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def sweep_orphans(self) -> list[str]:
        """Fail running jobs whose gateway stopped sending heartbeats."""
        cutoff = utcnow() - timedelta(seconds=self.settings.fine_tuning_stale_after)
        with self.db.session() as session:
            stale = list(session.exec(select(FineTuneJob.id).where(
                FineTuneJob.status == "running", col(FineTuneJob.heartbeat_at) < cutoff)))
        failed = []
        for job_id in stale:
            if job_id in self.running:
                continue
            if self._fail(job_id, "runner_lost", (
                    "the gateway running this job stopped or restarted before it finished "
                    f"(no heartbeat for {self.settings.fine_tuning_stale_after:g} s); "
                    "nothing was kept. Create the job again."), any_runner=True):
                failed.append(job_id)
                shutil.rmtree(work_dir(self.settings.data_dir, job_id), ignore_errors=True)
        return failed

    def _close(self, session: Session, job_id: str, any_runner: bool = False,
               **values: Any) -> FineTuneJob | None:
        """Move a running job (ours, unless `any_runner`) to its final state in one guarded
        UPDATE; None when it is not running there any more (cancelled meanwhile, or failed
        by another runner), in which case nothing was changed."""
        where = [col(FineTuneJob.id) == job_id, col(FineTuneJob.status) == "running"]
        if not any_runner:
            where.append(col(FineTuneJob.runner_id) == self.runner_id)
        result = session.execute(update(FineTuneJob).where(*where).values(
            finished_at=utcnow(), **values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return session.get(FineTuneJob, job_id)

    def _charge(self, session: Session, job: FineTuneJob, base: ModelManifest,
                trained: int) -> None:
        if self.settings.metering:
            job.usage_id = service.charge(session, job, base, trained,
                                          self.settings.fine_tuning_price_factor)

    def _fail(self, job_id: str, code: str, message: str, any_runner: bool = False) -> bool:
        with self.db.session() as session:
            job = self._close(session, job_id, any_runner, status="failed",
                              error={"code": code, "message": message, "param": None})
            if job is None:
                return False
            service.add_event(session, job, f"Job failed: {message}", level="error")
        return True

    def _record(self, run: Running, line: dict[str, Any]) -> None:
        """One protocol event into the log (and the step counter for metrics lines)."""
        data = line.get("data") if isinstance(line.get("data"), dict) else None
        with self.db.session(write=True) as session:
            job = session.get(FineTuneJob, run.job_id)
            if job is None:
                return
            level = line.get("level") if line.get("level") in ("info", "warn", "error") \
                else "info"
            kind = "metrics" if line.get("type") == "metrics" else "message"
            service.add_event(session, job, str(line.get("message", ""))[:2000], level, kind,
                              data)
            if data and isinstance(data.get("step"), int):
                session.execute(update(FineTuneJob).where(
                    col(FineTuneJob.id) == run.job_id, col(FineTuneJob.status) == "running")
                    .values(step=data["step"], total_steps=int(data.get("total_steps") or 0)))

    # ------------------------------------------------------------------ one job

    def _spec(self, job: FineTuneJob, work: Path) -> Path | str:
        """Write the subprocess's spec; a string is why the job cannot start."""
        base = self.registry.manifests.get(job.base_model)
        if not service.fine_tunable(base):
            return f"base model {job.base_model!r} is no longer available for fine-tuning"
        assert base is not None
        with self.db.session() as session:
            files = {f.id: f for f in session.exec(select(FineTuneFile).where(
                col(FineTuneFile.id).in_([job.training_file, job.validation_file])))}
            tenant_limits = None
            tenant = session.get(Tenant, job.tenant_id)
            plan_row = session.get(Plan, tenant.plan_id) if tenant else None
            if plan_row is not None:
                tenant_limits = plan_row.limits.get("fine_tuning_tokens")
        if job.training_file not in files or (job.validation_file
                                              and job.validation_file not in files):
            return "a file of this job was deleted before it started"
        data_dir = self.settings.data_dir
        spec = {
            "job_id": job.id, "model_id": job.model_id, "seed": job.seed,
            "base": base.model_dump(mode="json"),
            "training_path": str(data_dir / files[job.training_file].path),
            "validation_path": (str(data_dir / files[job.validation_file].path)
                                if job.validation_file else None),
            "hyperparameters": job.hyperparameters, "output_dir": str(work / "adapter"),
            "cache_dir": str(self.settings.cache_dir),
            "torch_threads": self.settings.torch_threads,
            "max_trained_tokens": tenant_limits,
        }
        (work / "adapter").mkdir(parents=True)
        path = work / "spec.json"
        path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        return path

    async def _run(self, run: Running, job: FineTuneJob) -> None:
        work = work_dir(self.settings.data_dir, job.id)
        try:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            spec = await asyncio.to_thread(self._spec, job, work)
            if isinstance(spec, str):
                await asyncio.to_thread(self._fail, job.id, "invalid_job", spec)
                return
            with (work / "train.log").open("wb") as stderr:
                env = {**os.environ, "TOKENIZERS_PARALLELISM": "false",
                       "PYTHONUNBUFFERED": "1"}
                run.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", self.trainer, str(spec),
                    stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env,
                    start_new_session=True)  # its own process group: cancel kills it all
                if run.stopping:  # cancelled while it was starting
                    await self._kill(run)
                assert run.process.stdout is not None
                async for raw in run.process.stdout:
                    line = parse(raw.decode("utf-8", "replace"))
                    if line is None:
                        continue
                    if line["kind"] == "event":
                        await asyncio.to_thread(self._record, run, line)
                    elif line["kind"] == "result":
                        run.result = line
                    else:
                        run.error = {"code": str(line.get("code") or "training_failed"),
                                     "message": str(line.get("message") or "")}
                code = await run.process.wait()
            await asyncio.to_thread(self._finish, run, job, work, code)
        except Exception as exc:
            log.exception("fine-tuning job %s failed in the runner", job.id)
            await asyncio.to_thread(self._fail, job.id, "internal_error",
                                    f"the runner failed: {exc}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self.running.pop(job.id, None)

    async def _kill(self, run: Running) -> None:
        """Stop the training process group (SIGTERM, SIGKILL after a grace period)."""
        if run.process is not None:
            await stop_process_group(run.process, KILL_GRACE)

    def _tail(self, work: Path) -> str:
        try:
            text = (work / "train.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-LOG_TAIL:].strip()

    def _finish(self, run: Running, job: FineTuneJob, work: Path, code: int) -> None:
        if run.stopping:
            with self.db.session(write=True) as session:
                current = session.get(FineTuneJob, job.id)
                if current is not None:
                    service.add_event(session, current, "Training process stopped; nothing "
                                      "was kept")
            return
        if code != 0 or run.result is None:
            error = run.error or {"code": "training_failed", "message": (
                f"the training process exited with code {code}: " + (self._tail(work)
                                                                    or "no output"))}
            self._fail(job.id, error["code"], error["message"])
            return
        base = self.registry.manifests[job.base_model]
        evaluation = dict(run.result.get("eval") or {})
        trained = int(run.result.get("trained_tokens") or 0)
        if not evaluation.get("ready"):
            self._not_better(job, base, evaluation, trained)
            return
        target = model_dir(self.settings.data_dir, job.tenant_id, job.model_id)
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work / "adapter", target)
        manifest = service.private_manifest(base, job, target, job.result["resolved"])
        try:
            self.registry.add_private(manifest)
        except Exception as exc:
            shutil.rmtree(target, ignore_errors=True)
            self._fail(job.id, "registration_failed", f"the model could not be registered: "
                                                      f"{exc}")
            return
        with self.db.session() as session:
            current = self._close(session, job.id, status="succeeded",
                                  fine_tuned_model=job.model_id, trained_tokens=trained,
                                  step=job.total_steps, result={**job.result, "eval": evaluation})
            if current is None:
                self._unregister(job, target)
                return
            self._charge(session, current, base, trained)
            service.add_event(session, current, f"New fine-tuned model created: "
                              f"{job.model_id}")
            service.add_event(session, current, "The job has successfully completed")

    def _unregister(self, job: FineTuneJob, target: Path) -> None:
        """The job was cancelled while its model was being registered: undo that."""
        with contextlib.suppress(Exception):
            self.registry.remove_private(job.model_id, job.tenant_id)
        shutil.rmtree(target, ignore_errors=True)

    def _not_better(self, job: FineTuneJob, base: ModelManifest, evaluation: dict[str, Any],
                    trained: int) -> None:
        """Training ran but the adapter did not beat its base: no model, and the job says
        so with both scores (the tokens were trained, so they are charged)."""
        b, a = evaluation.get("base") or {}, evaluation.get("adapter") or {}
        message = (f"the adapter did not beat the base on the held-out examples (loss "
                   f"{a.get('loss')} vs base {b.get('loss')}, answer F1 {a.get('answer_f1')} "
                   f"vs {b.get('answer_f1')}); no model was created. Try more examples or "
                   "epochs.")
        with self.db.session() as session:
            current = self._close(
                session, job.id, status="failed", trained_tokens=trained,
                result={**job.result, "eval": evaluation},
                error={"code": "adapter_not_better", "message": message, "param": None})
            if current is None:
                return
            self._charge(session, current, base, trained)
            service.add_event(session, current, f"Job failed: {message}", level="error")
