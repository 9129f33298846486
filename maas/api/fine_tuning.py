"""OpenAI's `/v1/files` (purpose fine-tune) and `/v1/fine_tuning/jobs`, per tenant.

`DELETE /v1/models/{id}` deletes one of the tenant's fine-tuned models (tenant admin or
owner; the library's models are not deletable: 404 like another tenant's).

Roles: every member of a tenant may upload training files and read the tenant's files,
jobs and job events (preparing data and watching progress); starting or cancelling a job
(which spends the tenant's credits and adds a model) and deleting a file take a tenant
admin or owner. Another tenant's files and jobs are 404s, like missing ones.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import in_session, principal, services
from maas.api.uploads import read_limited
from maas.errors import InvalidRequest, ModelNotFound
from maas.finetune.jobs import files, plan, service
from maas.services import Services
from maas.tenancy.principal import TENANT_ADMIN, Principal, require_tenant

router = APIRouter(tags=["fine-tuning"])


class SupervisedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hyperparameters: plan.Hyperparameters | None = None


class MethodSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["supervised"]
    supervised: SupervisedSpec | None = None


class JobCreate(BaseModel):
    """OpenAI's job creation body; `method.supervised.hyperparameters` and the older
    top-level `hyperparameters` are both read (not both at once)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=128)
    training_file: str = Field(min_length=1, max_length=64)
    validation_file: str | None = Field(default=None, max_length=64)
    suffix: str | None = Field(default=None, max_length=64)
    hyperparameters: plan.Hyperparameters | None = None
    method: MethodSpec | None = None
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    metadata: dict[str, str] | None = None
    integrations: list[Any] | None = Field(default=None, max_length=0)

    def resolved_hyperparameters(self) -> plan.Hyperparameters:
        nested = self.method.supervised.hyperparameters \
            if self.method and self.method.supervised else None
        if nested is not None and self.hyperparameters is not None:
            raise InvalidRequest("give hyperparameters or method.supervised.hyperparameters, "
                                 "not both", param="hyperparameters")
        return nested or self.hyperparameters or plan.Hyperparameters()


def _page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


# ---------------------------------------------------------------------- files


@router.post("/v1/files")
async def upload_file(file: UploadFile = File(...), purpose: str = Form(...),
                      who: Principal = Depends(principal), svc: Services = Depends(services)
                      ) -> dict[str, Any]:
    require_tenant(who, who.tenant_id)
    if purpose != files.PURPOSE:
        raise InvalidRequest(f"purpose must be {files.PURPOSE!r}: this server keeps files "
                             "for fine-tuning only", param="purpose")
    limit = int(svc.settings.fine_tuning_max_file_mb * 1_000_000)
    data = await read_limited(file, limit, "for fine-tune files")
    record = await in_session(svc, lambda s: files.store_file(
        s, svc.settings.data_dir, who.tenant_id, file.filename or "upload.jsonl", purpose,
        data, who.actor))
    return files.file_view(record)


@router.get("/v1/files")
async def list_files(purpose: str | None = None, limit: int = Query(default=100, ge=1, le=10000),
                     after: str | None = None, order: Literal["asc", "desc"] = "desc",
                     who: Principal = Depends(principal), svc: Services = Depends(services)
                     ) -> dict[str, Any]:
    if purpose not in (None, files.PURPOSE):
        return _page([], False)
    rows, more = await in_session(svc, lambda s: files.list_files(s, who.tenant_id, limit,
                                                                  after, order))
    return _page([files.file_view(r) for r in rows], more)


@router.get("/v1/files/{file_id}")
async def get_file(file_id: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return files.file_view(await in_session(svc, lambda s: files.get_file(s, who.tenant_id,
                                                                          file_id)))


@router.delete("/v1/files/{file_id}")
async def delete_file(file_id: str, who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    await in_session(svc, lambda s: files.get_file(s, who.tenant_id, file_id))  # 404 first
    require_tenant(who, who.tenant_id, TENANT_ADMIN)
    await in_session(svc, lambda s: files.delete_file(s, svc.settings.data_dir, who.tenant_id,
                                                      file_id))
    return {"id": file_id, "object": "file", "deleted": True}


# ---------------------------------------------------------------------- jobs


@router.post("/v1/fine_tuning/jobs")
async def create_job(body: JobCreate, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    require_tenant(who, who.tenant_id, TENANT_ADMIN)
    hp = body.resolved_hyperparameters()
    registry = svc.registry
    owned = sum(1 for r in registry.snapshot.values() if r.owner == who.tenant_id)
    taken = set(registry.snapshot) | set(registry.manifests) | set(registry.held_back)
    job = await in_session(svc, lambda s: service.create_job(
        s, who, registry.manifests.get(body.model), body.model, body.training_file,
        body.validation_file, body.suffix, hp, body.seed, owned, taken,
        svc.settings.fine_tuning_price_factor))
    return service.job_view(job)


@router.get("/v1/fine_tuning/jobs")
async def list_jobs(after: str | None = None, limit: int = Query(default=20, ge=1, le=100),
                    who: Principal = Depends(principal), svc: Services = Depends(services)
                    ) -> dict[str, Any]:
    rows, more = await in_session(svc, lambda s: service.list_jobs(s, who.tenant_id, limit,
                                                                   after))
    return {"object": "list", "data": [service.job_view(j) for j in rows], "has_more": more}


@router.get("/v1/fine_tuning/jobs/{job_id}")
async def get_job(job_id: str, who: Principal = Depends(principal),
                  svc: Services = Depends(services)) -> dict[str, Any]:
    return service.job_view(await in_session(svc, lambda s: service.get_job(s, who.tenant_id,
                                                                            job_id)))


@router.post("/v1/fine_tuning/jobs/{job_id}/cancel")
async def cancel_job(job_id: str, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    await in_session(svc, lambda s: service.get_job(s, who.tenant_id, job_id))  # 404 first
    require_tenant(who, who.tenant_id, TENANT_ADMIN)
    job = await in_session(svc, lambda s: service.cancel_job(s, who.tenant_id, job_id))
    return service.job_view(job)


@router.get("/v1/fine_tuning/jobs/{job_id}/events")
async def list_events(job_id: str, after: str | None = None,
                      limit: int = Query(default=20, ge=1, le=1000),
                      who: Principal = Depends(principal), svc: Services = Depends(services)
                      ) -> dict[str, Any]:
    rows, more = await in_session(svc, lambda s: service.list_events(s, who.tenant_id, job_id,
                                                                     limit, after))
    return {"object": "list", "data": [service.event_view(e) for e in rows], "has_more": more}


# ---------------------------------------------------------------------- fine-tuned models


@router.delete("/v1/models/{model_id}")
async def delete_model(model_id: str, who: Principal = Depends(principal),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    record = svc.registry.snapshot.get(model_id)
    if record is None or record.owner != who.tenant_id:
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have "
                            "access to it.", param="model")
    require_tenant(who, who.tenant_id, TENANT_ADMIN)
    await asyncio.to_thread(svc.registry.remove_private, model_id, who.tenant_id)
    adapter = record.manifest.get("adapter_path")
    models_root = (svc.settings.data_dir / "fine_tuning" / "models").resolve()
    if adapter and Path(adapter).resolve().is_relative_to(models_root):
        await asyncio.to_thread(shutil.rmtree, adapter, True)
    return {"id": model_id, "object": "model", "deleted": True}
