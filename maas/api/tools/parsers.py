"""`/v1/tools/protocol-parsers`: generate a tested parser package from a Modbus register
map, a binary frame spec or a saved thing model, and download it as a zip.

The generated package's own tests run in the sandbox before the answer goes out; a build
that fails them is returned with `passed: false` and the test output. A spec that cannot be
read answers 400 with every problem named by row (register maps) or field (frame specs).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import principal, services
from maas.errors import InvalidRequest
from maas.services import Services
from maas.tenancy.principal import Principal
from maas.toolbox.parsers import MAX_SPEC_BYTES, build_view

router = APIRouter(prefix="/v1/tools/protocol-parsers", tags=["toolbox"])


class SpecSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255,
                          description="Says the format: .csv/.md (register map), .yaml/.json "
                                      "(frame spec).")
    content: str = Field(min_length=1, max_length=MAX_SPEC_BYTES)


class BuildBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: SpecSource | None = None
    thing_model_id: str | None = Field(default=None, max_length=64)
    thing_model_version: int | None = Field(default=None, ge=1)
    start_address: int = Field(default=0, ge=0, le=65535)
    table: Literal["holding", "input"] = "holding"
    package: str | None = Field(default=None, max_length=41)


def default_package(name: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "_", name.lower().rsplit(".", 1)[0]).strip("_")
    stem = stem if stem and stem[0].isalpha() else f"device_{stem}".rstrip("_")
    return (stem[:32] + "_parser")[:41]


async def _build(svc: Services, who: Principal, filename: str, content: bytes,
                 package: str | None, thing_model_id: str | None) -> dict[str, Any]:
    builds = svc.toolbox.parsers
    kind, spec = await asyncio.to_thread(builds.read_spec, content, filename)
    linked = None
    if thing_model_id:
        tm = await asyncio.to_thread(svc.toolbox.thing_models.thing_model, who, thing_model_id)
        linked = tm.model_dump(mode="json")
    row = await asyncio.to_thread(builds.build, who, kind, spec,
                                  package=package or default_package(filename),
                                  source_name=filename, thing_model=linked,
                                  thing_model_id=thing_model_id)
    return build_view(row)


@router.post("", status_code=201)
async def build(body: BuildBody, who: Principal = Depends(principal),
                svc: Services = Depends(services)) -> dict[str, Any]:
    """From a spec's text (`source`), or from a saved thing model (`thing_model_id` alone:
    its numeric, bool and enum properties get registers from `start_address`)."""
    if body.source is not None:
        return await _build(svc, who, body.source.filename, body.source.content.encode(),
                            body.package, body.thing_model_id)
    if not body.thing_model_id:
        raise InvalidRequest("give `source` (a register map or frame spec) or "
                             "`thing_model_id`", param="source")
    lib, builds = svc.toolbox.thing_models, svc.toolbox.parsers
    tm = await asyncio.to_thread(lib.thing_model, who, body.thing_model_id,
                                 body.thing_model_version)
    document = tm.model_dump(mode="json")
    spec = await asyncio.to_thread(builds.spec_from_thing_model, document,
                                   start_address=body.start_address, table=body.table)
    row = await asyncio.to_thread(builds.build, who, "modbus", spec,
                                  package=body.package or default_package(tm.identifier),
                                  source_name=f"thing model {tm.identifier}",
                                  thing_model=document, thing_model_id=body.thing_model_id)
    return build_view(row)


@router.post("/upload", status_code=201)
async def build_from_upload(file: UploadFile = File(...), package: str | None = Form(None),
                            thing_model_id: str | None = Form(None),
                            who: Principal = Depends(principal),
                            svc: Services = Depends(services)) -> dict[str, Any]:
    """A register map (.csv, .xlsx, .md) or a frame spec (.yaml, .json) as a file."""
    content = await file.read(MAX_SPEC_BYTES + 1)
    return await _build(svc, who, file.filename or "spec", content, package, thing_model_id)


@router.get("")
async def list_builds(limit: int = Query(default=50, ge=1, le=200),
                      who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.toolbox.parsers.list, who, limit)
    return {"object": "list", "data": [build_view(r) for r in rows]}


@router.get("/{parser_id}")
async def show_build(parser_id: str, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    row = await asyncio.to_thread(svc.toolbox.parsers.get, who, parser_id)
    return {**build_view(row), "spec": row.spec}


@router.get("/{parser_id}/download")
async def download(parser_id: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> Response:
    row = await asyncio.to_thread(svc.toolbox.parsers.get, who, parser_id)
    return Response(row.archive, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{row.package}.zip"'})
