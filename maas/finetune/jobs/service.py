"""Fine-tuning jobs in the database: creation (base, files, plan limits, credits), reads,
cancel, the event log, the usage charge and the private model's manifest. Every query is
scoped by tenant: another tenant's job or file is a 404, exactly like a missing one.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from maas.catalog.models import WORKER_ENGINES, AdapterSpec, ModelManifest
from maas.db.tables import FineTuneEvent, FineTuneJob, Plan, Tenant, utcnow
from maas.errors import Conflict, InsufficientCredits, InvalidRequest, NotFound, QuotaExceeded
from maas.finetune.jobs import plan
from maas.finetune.jobs.files import ACTIVE, get_file, unix
from maas.limits.policy import Limits
from maas.metering.charges import record_usage, usable_credits
from maas.metering.pricing import Price, micro_to_credits
from maas.tenancy.principal import MEMBER, Principal

ENDPOINT = "fine_tuning.jobs"


def fine_tunable(manifest: ModelManifest | None) -> bool:
    """A plain chat model with local weights and a transformers engine (what the training
    subprocess loads); industry and private models are not bases."""
    return (manifest is not None and manifest.kind == "chat" and not manifest.is_industry
            and manifest.owner is None and manifest.source is not None
            and any(e.kind == "transformers" for e in manifest.engines))


def training_price(base: ModelManifest, factor: float) -> Price:
    """Trained tokens cost `factor` x the base's input price (no output tokens)."""
    return Price(base.pricing.input_per_1k * factor, 0)


def add_event(session: Session, job: FineTuneJob, message: str, level: str = "info",
              type_: str = "message", data: dict[str, Any] | None = None) -> None:
    session.add(FineTuneEvent(job_id=job.id, tenant_id=job.tenant_id, level=level,
                              type=type_, message=message, data=data))


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _check_limits(session: Session, who: Principal, limits: Limits, examples: int,
                  tokens: int, owned_models: int) -> None:
    """4xx naming the plan limit a new job would break."""
    tenant = who.tenant_id
    if limits.fine_tuning_examples is not None and examples > limits.fine_tuning_examples:
        raise InvalidRequest(
            f"the training file has {examples} examples; plan {who.plan_id!r} allows "
            f"{limits.fine_tuning_examples} per job (limit fine_tuning_examples)",
            param="training_file", code="fine_tuning_examples_limit")
    if limits.fine_tuning_tokens is not None and tokens > limits.fine_tuning_tokens:
        raise InvalidRequest(
            f"this job would train on about {tokens} tokens (examples x epochs); plan "
            f"{who.plan_id!r} allows {limits.fine_tuning_tokens} (limit fine_tuning_tokens). "
            "Use fewer epochs or examples.", param="hyperparameters",
            code="fine_tuning_tokens_limit")
    active = session.exec(select(func.count()).select_from(FineTuneJob).where(
        FineTuneJob.tenant_id == tenant, col(FineTuneJob.status).in_(ACTIVE))).one()
    if limits.fine_tuning_active_jobs is not None and active >= limits.fine_tuning_active_jobs:
        raise QuotaExceeded(
            f"tenant {tenant!r} has {active} fine-tuning jobs queued or running; plan "
            f"{who.plan_id!r} allows {limits.fine_tuning_active_jobs} at once (limit "
            "fine_tuning_active_jobs). Wait for one to finish or cancel one.",
            code="fine_tuning_active_jobs_limit")
    if limits.fine_tuning_jobs_per_month is not None:
        month = session.exec(select(func.count()).select_from(FineTuneJob).where(
            FineTuneJob.tenant_id == tenant,
            col(FineTuneJob.created_at) >= _month_start(utcnow()))).one()
        if month >= limits.fine_tuning_jobs_per_month:
            raise QuotaExceeded(
                f"tenant {tenant!r} created {month} fine-tuning jobs this month; plan "
                f"{who.plan_id!r} allows {limits.fine_tuning_jobs_per_month} (limit "
                "fine_tuning_jobs_per_month). It resets at the start of next month.",
                code="fine_tuning_jobs_per_month_limit")
    if limits.fine_tuned_models is not None and owned_models + active >= limits.fine_tuned_models:
        raise QuotaExceeded(
            f"tenant {tenant!r} has {owned_models} fine-tuned models and {active} jobs that "
            f"would add one; plan {who.plan_id!r} allows {limits.fine_tuned_models} (limit "
            "fine_tuned_models). Delete a fine-tuned model first.",
            code="fine_tuned_models_limit")


def create_job(session: Session, who: Principal, base: ModelManifest | None, model: str,
               training_file: str, validation_file: str | None, suffix: str | None,
               hp: plan.Hyperparameters, seed: int | None, owned_models: int,
               taken: set[str], price_factor: float) -> FineTuneJob:
    """Validate and queue a job. `base` is the registry's manifest for `model` (None if it
    has none or the caller may not use it), `owned_models` the tenant's private models,
    `taken` the model ids already in the registry."""
    if not fine_tunable(base) or not who.may_use_model(model, base.tags if base else []):
        raise InvalidRequest(
            f"model {model!r} cannot be fine-tuned here: a base must be a chat model with "
            "local weights and a transformers engine (industry and fine-tuned models are "
            "not bases)", param="model", code="model_not_available")
    assert base is not None
    if suffix is not None and not plan.SUFFIX.match(suffix):
        raise InvalidRequest("suffix must be 1-40 characters of a-z, 0-9, '.', '_' or '-', "
                             "starting with a letter or digit", param="suffix")
    train = get_file(session, who.tenant_id, training_file, "training_file")
    valid = get_file(session, who.tenant_id, validation_file, "validation_file") \
        if validation_file else None
    if train.examples < plan.MIN_EXAMPLES:
        raise InvalidRequest(f"the training file has {train.examples} examples; a job needs "
                             f"at least {plan.MIN_EXAMPLES}", param="training_file",
                             code="invalid_training_file")
    n_train = plan.train_size(train.examples, valid is not None)
    resolved = plan.resolve(hp, n_train)
    tokens = plan.estimated_trained_tokens(train.estimated_tokens, train.examples, resolved)
    job_id = "ftjob-" + secrets.token_hex(12)
    target = plan.model_id(base.id, suffix, job_id)
    clash = session.exec(select(FineTuneJob.id).where(
        FineTuneJob.model_id == target, col(FineTuneJob.status).in_(ACTIVE))).first()
    if target in taken or clash:
        raise Conflict(f"model id {target!r} is taken; choose another suffix", param="suffix")
    _check_limits(session, who, who.plan_limits, train.examples, tokens, owned_models)
    cost = training_price(base, price_factor).cost(tokens, 0)
    if who.billing == "prepaid" and cost > 0:
        have = usable_credits(session, who.tenant_id, base.id, base.industries)
        if have < cost:
            raise InsufficientCredits(
                f"this job may cost up to {micro_to_credits(cost):.6f} credits (about {tokens} "
                f"trained tokens); tenant {who.tenant_id!r} has {micro_to_credits(have):.6f} "
                "usable. Redeem a voucher or ask your platform admin for credits.")
    job = FineTuneJob(
        id=job_id, tenant_id=who.tenant_id, created_by=who.actor, key_id=who.key_id,
        user_id=who.user_id, base_model=base.id, model_id=target, suffix=suffix,
        training_file=train.id, validation_file=valid.id if valid else None,
        hyperparameters=hp.model_dump(exclude_none=True),
        seed=seed if seed is not None else secrets.randbelow(2**31), status="queued",
        estimated_tokens=tokens, total_steps=resolved.steps,
        result={"resolved": resolved.as_dict(), "train_examples": n_train,
                "eval_examples": (min(valid.examples, plan.EVAL_CAP) if valid
                                  else plan.eval_count(train.examples))})
    session.add(job)
    session.flush()
    add_event(session, job, f"Created fine-tuning job: {job.id}")
    add_event(session, job, f"Validated training file: {train.examples} examples "
              f"({job.result['eval_examples']} held out for evaluation"
              f"{' from the validation file' if valid else ''}); about {tokens} tokens to "
              f"train, up to {micro_to_credits(cost):.6f} credits")
    add_event(session, job, "Job queued")
    session.flush()
    return job


def get_job(session: Session, tenant_id: str, job_id: str) -> FineTuneJob:
    job = session.get(FineTuneJob, job_id)
    if job is None or job.tenant_id != tenant_id:
        raise NotFound(f"No fine-tuning job found with id {job_id}", param="fine_tuning_job_id")
    return job


def list_jobs(session: Session, tenant_id: str, limit: int, after: str | None
              ) -> tuple[list[FineTuneJob], bool]:
    """Newest first; `after` is the last job id of the previous page."""
    statement = select(FineTuneJob).where(FineTuneJob.tenant_id == tenant_id)
    if after:
        cursor = get_job(session, tenant_id, after)
        created, ident = col(FineTuneJob.created_at), col(FineTuneJob.id)
        statement = statement.where((created < cursor.created_at) | (
            (created == cursor.created_at) & (ident < cursor.id)))
    rows = list(session.exec(statement.order_by(col(FineTuneJob.created_at).desc(),
                                                col(FineTuneJob.id).desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def cancel_job(session: Session, tenant_id: str, job_id: str) -> FineTuneJob:
    """Queued: cancelled at once. Running: marked cancelled here; the gateway running it
    sees that at its next heartbeat, kills the training process group and keeps nothing.
    A finished job cannot be cancelled (409)."""
    job = get_job(session, tenant_id, job_id)
    result = session.execute(update(FineTuneJob).where(
        col(FineTuneJob.id) == job_id, col(FineTuneJob.status).in_(ACTIVE)).values(
        status="cancelled", finished_at=utcnow()))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"job {job_id} is {job.status}; only queued or running jobs can be "
                       "cancelled")
    session.refresh(job)
    add_event(session, job, "Job cancelled by " + ("request" if job.started_at is None
                                                   else "request; stopping training"))
    session.flush()
    return job


def list_events(session: Session, tenant_id: str, job_id: str, limit: int,
                after: str | None) -> tuple[list[FineTuneEvent], bool]:
    """Newest first, as OpenAI lists them; `after` is an event id from the last page."""
    get_job(session, tenant_id, job_id)
    statement = select(FineTuneEvent).where(FineTuneEvent.job_id == job_id)
    if after:
        try:
            cursor = int(after.removeprefix("ftevent-"))
        except ValueError as exc:
            raise InvalidRequest(f"after must be an event id, not {after!r}",
                                 param="after") from exc
        statement = statement.where(col(FineTuneEvent.id) < cursor)
    rows = list(session.exec(statement.order_by(col(FineTuneEvent.id).desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def charge(session: Session, job: FineTuneJob, base: ModelManifest, trained_tokens: int,
           price_factor: float) -> str:
    """The job's usage record (endpoint `fine_tuning.jobs`, request id = job id) and, for a
    prepaid tenant, its debit; returns the usage id."""
    tenant = session.get(Tenant, job.tenant_id)
    plan_row = session.get(Plan, tenant.plan_id) if tenant else None
    who = Principal(tenant_id=job.tenant_id, key_id=job.key_id, role=MEMBER,
                    user_id=job.user_id, billing=plan_row.billing if plan_row else "postpaid")
    cost = training_price(base, price_factor).cost(trained_tokens, 0)
    record = record_usage(session, who, base.id, base.industries, ENDPOINT, cost,
                          prompt_tokens=trained_tokens, request_id=job.id)
    return record.id


def private_manifest(base: ModelManifest, job: FineTuneJob, adapter_dir: Path,
                     resolved: dict[str, Any]) -> ModelManifest:
    """The fine-tuned model: the base's manifest, owned by the tenant, with its adapter."""
    data = base.model_dump(mode="json")
    data.update(
        id=job.model_id, owner=job.tenant_id, base=base.id, adapter_path=str(adapter_dir),
        engines=[e for e in data["engines"] if e["kind"] != "remote"],
        tags=sorted({*base.tags, "fine-tuned", "private"}),
        title={"en": f"{base.id} fine-tuned ({job.suffix or job.id})"},
        description=f"{base.id} with a LoRA adapter trained by fine-tuning job {job.id}.",
        adapter=AdapterSpec(dataset=job.id, rank=resolved["rank"], alpha=resolved["alpha"],
                            steps=resolved["steps"], batch_size=resolved["batch_size"],
                            learning_rate=resolved["learning_rate"], seed=job.seed,
                            target_modules=list(plan.TARGET_MODULES)).model_dump(mode="json"),
        version="1")
    if not any(e["kind"] in WORKER_ENGINES or e["kind"] == "vllm" for e in data["engines"]):
        raise ValueError(f"base {base.id} has no local engine")
    return ModelManifest.model_validate(data)


def job_view(job: FineTuneJob) -> dict[str, Any]:
    """OpenAI's FineTuningJob, plus progress, step counts and the evaluation."""
    hp = dict(job.hyperparameters)
    resolved = job.result.get("resolved") or {}
    epochs = resolved.get("n_epochs", "auto")
    if isinstance(epochs, float) and epochs.is_integer():
        epochs = int(epochs)
    progress = 1.0 if job.status == "succeeded" else (
        round(job.step / job.total_steps, 3) if job.total_steps else 0.0)
    return {
        "id": job.id, "object": "fine_tuning.job", "model": job.base_model,
        "created_at": unix(job.created_at), "finished_at": unix(job.finished_at),
        "fine_tuned_model": job.fine_tuned_model, "organization_id": job.tenant_id,
        "result_files": [], "status": job.status,
        "training_file": job.training_file, "validation_file": job.validation_file,
        "hyperparameters": {
            "n_epochs": hp.get("n_epochs", epochs),
            "batch_size": hp.get("batch_size", resolved.get("batch_size", "auto")),
            "learning_rate_multiplier": hp.get("learning_rate_multiplier",
                                               resolved.get("learning_rate_multiplier",
                                                            "auto")),
        },
        "method": {"type": "supervised"},
        "trained_tokens": job.trained_tokens, "error": job.error, "seed": job.seed,
        "estimated_finish": None, "integrations": [], "metadata": None,
        "suffix": job.suffix, "progress": progress, "step": job.step,
        "total_steps": job.total_steps, "estimated_tokens": job.estimated_tokens,
        "started_at": unix(job.started_at), "usage_id": job.usage_id,
        "eval": job.result.get("eval"), "resolved_hyperparameters": resolved or None,
    }


def event_view(event: FineTuneEvent) -> dict[str, Any]:
    return {"id": f"ftevent-{event.id}", "object": "fine_tuning.job.event",
            "created_at": unix(event.created_at), "level": event.level,
            "message": event.message, "data": event.data, "type": event.type}
