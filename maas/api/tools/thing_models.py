"""`/v1/tools/thing-models`: generate a device's thing model, keep its versions, diff and
export them (platform JSON, Alibaba IoT TSL, W3C WoT Thing Description).

Generation reads a description, an uploaded datasheet or a knowledge-base document; the
deterministic extractor and the model's schema-constrained proposal are merged, normalised
and validated before anything is returned or saved.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import principal, services
from maas.api.tools.calls import tool_model_call
from maas.errors import InvalidRequest
from maas.services import Services
from maas.tenancy.principal import Principal
from maas.toolbox.documents import document_text
from maas.toolbox.library import record_view, version_view
from maas.toolbox.thingmodel.bundle import bundle
from maas.toolbox.thingmodel.generate import generate_thing_model
from maas.toolbox.thingmodel.schema import ThingModel, ThingModelError, parse_thing_model
from maas.toolbox.thingmodel.tsl import to_tsl
from maas.toolbox.thingmodel.units import list_units
from maas.toolbox.thingmodel.validate import validate_platform
from maas.toolbox.thingmodel.wot import to_wot

router = APIRouter(prefix="/v1/tools", tags=["toolbox"])
MAX_TEXT = 50_000
TOOL = "thing_model"


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=MAX_TEXT,
                             description="A device description or a datasheet's text.")
    knowledge_base: str | None = Field(default=None, max_length=64)
    document_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=128,
                              description="Chat model for the proposal; none: the default.")
    use_model: bool = Field(default=True, description="False: the extractor alone.")
    language: Literal["auto", "zh", "en"] = "auto"
    save: bool = False
    thing_model_id: str | None = Field(default=None, max_length=64)
    comment: str = Field(default="", max_length=500)


class SaveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any]
    comment: str = Field(default="", max_length=500)


def parse_document(document: dict[str, Any]) -> ThingModel:
    """A caller's document, checked by the model and by the published JSON Schema."""
    problems = validate_platform(document)
    if problems:
        raise InvalidRequest("the thing model does not validate: " + "; ".join(problems[:20]),
                             param="document", code="invalid_thing_model")
    try:
        return parse_thing_model(document)
    except ThingModelError as exc:
        raise InvalidRequest(str(exc), param="document", code="invalid_thing_model") from exc


async def _generate(svc: Services, request: Request, who: Principal, text: str,
                    body: GenerateBody, source: dict[str, Any]) -> dict[str, Any]:
    if not text.strip():
        raise InvalidRequest("the description is empty", param="text")
    model_id = body.model or svc.settings.tool_model
    call = tool_model_call(svc, request, who, model_id, TOOL) if body.use_model else None
    result = await generate_thing_model(text, call=call, model=model_id, language=body.language,
                                        name=body.name)
    view: dict[str, Any] = {"object": "thing_model.generation", **bundle(result.thing_model),
                            "notes": result.notes, "proposal_valid": result.proposal_valid,
                            "model": model_id if body.use_model else None}
    if body.save:
        saved = await asyncio.to_thread(
            svc.toolbox.thing_models.save, who, result.thing_model,
            source={**source, "model": view["model"], "notes": result.notes[:50]},
            comment=body.comment, thing_model_id=body.thing_model_id)
        view["saved"] = {"thing_model_id": saved.record.id, "version": saved.version.version}
    return view


@router.get("/units")
async def units(who: Principal = Depends(principal)) -> dict[str, Any]:
    """The unit catalogue thing models are normalised to."""
    return {"object": "list", "data": list_units()}


@router.post("/thing-models/generate")
async def generate(body: GenerateBody, request: Request, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    if bool(body.text) == bool(body.knowledge_base or body.document_id):
        raise InvalidRequest("give either `text`, or `knowledge_base` with `document_id`",
                             param="text")
    if body.text:
        return await _generate(svc, request, who, body.text, body,
                               {"kind": "description", "excerpt": body.text[:300]})
    if not (body.knowledge_base and body.document_id):
        raise InvalidRequest("a knowledge-base document needs both `knowledge_base` and "
                             "`document_id`", param="document_id")
    text = await asyncio.to_thread(svc.knowledge.document_text, who, body.knowledge_base,
                                   body.document_id)
    return await _generate(svc, request, who, text, body,
                           {"kind": "document", "knowledge_base": body.knowledge_base,
                            "document_id": body.document_id})


@router.post("/thing-models/generate/upload")
async def generate_from_upload(
        request: Request, file: UploadFile = File(...), name: str | None = Form(None),
        model: str | None = Form(None), use_model: bool = Form(True),
        language: Literal["auto", "zh", "en"] = Form("auto"), save: bool = Form(False),
        thing_model_id: str | None = Form(None), comment: str = Form(""),
        who: Principal = Depends(principal), svc: Services = Depends(services)
) -> dict[str, Any]:
    """A datasheet (pdf, docx, html, md, txt, csv, xlsx) as a multipart upload."""
    limit = int(svc.settings.max_upload_mb * 1_000_000)
    data = await file.read(limit + 1)
    filename = file.filename or "datasheet"
    text = await asyncio.to_thread(document_text, filename, data, limit)
    body = GenerateBody(name=name, model=model, use_model=use_model, language=language,
                        save=save, thing_model_id=thing_model_id, comment=comment[:500])
    return await _generate(svc, request, who, text, body,
                           {"kind": "datasheet", "filename": filename[:255]})


@router.get("/thing-models")
async def list_thing_models(who: Principal = Depends(principal),
                            svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.toolbox.thing_models.list, who)
    return {"object": "list", "data": [record_view(r) for r in rows]}


@router.post("/thing-models", status_code=201)
async def save_thing_model(body: SaveBody, who: Principal = Depends(principal),
                           svc: Services = Depends(services)) -> dict[str, Any]:
    """Save a document (written or edited by hand) as a new thing model or, when the tenant
    has one with its identifier, as that one's next version."""
    tm = parse_document(body.document)
    saved = await asyncio.to_thread(svc.toolbox.thing_models.save, who, tm,
                                    source={"kind": "manual"}, comment=body.comment)
    return {**record_view(saved.record), "version": version_view(saved.version)}


@router.get("/thing-models/{thing_model_id}")
async def show_thing_model(thing_model_id: str, who: Principal = Depends(principal),
                           svc: Services = Depends(services)) -> dict[str, Any]:
    lib = svc.toolbox.thing_models
    record = await asyncio.to_thread(lib.get, who, thing_model_id)
    versions = await asyncio.to_thread(lib.versions, who, thing_model_id)
    return {**record_view(record), "document": versions[-1].document if versions else None,
            "versions": [version_view(v, document=False) for v in versions]}


@router.post("/thing-models/{thing_model_id}/versions", status_code=201)
async def add_version(thing_model_id: str, body: SaveBody,
                      who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    tm = parse_document(body.document)
    saved = await asyncio.to_thread(svc.toolbox.thing_models.save, who, tm,
                                    source={"kind": "manual"}, comment=body.comment,
                                    thing_model_id=thing_model_id)
    return version_view(saved.version)


@router.get("/thing-models/{thing_model_id}/versions/{version}")
async def show_version(thing_model_id: str, version: int, who: Principal = Depends(principal),
                       svc: Services = Depends(services)) -> dict[str, Any]:
    found = await asyncio.to_thread(svc.toolbox.thing_models.version, who, thing_model_id,
                                    version)
    return version_view(found)


@router.get("/thing-models/{thing_model_id}/diff")
async def diff(thing_model_id: str, from_version: int = Query(alias="from", ge=1),
               to_version: int | None = Query(default=None, alias="to", ge=1),
               who: Principal = Depends(principal),
               svc: Services = Depends(services)) -> dict[str, Any]:
    lib = svc.toolbox.thing_models
    if to_version is None:
        to_version = (await asyncio.to_thread(lib.get, who, thing_model_id)).latest_version
    return await asyncio.to_thread(lib.diff, who, thing_model_id, from_version, to_version)


@router.get("/thing-models/{thing_model_id}/export")
async def export(thing_model_id: str,
                 format: Literal["platform", "tsl", "wot"] = "platform",  # noqa: A002
                 version: int | None = Query(default=None, ge=1),
                 who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    tm = await asyncio.to_thread(svc.toolbox.thing_models.thing_model, who, thing_model_id,
                                 version)
    if format == "tsl":
        return to_tsl(tm)
    if format == "wot":
        return to_wot(tm)
    return tm.model_dump(mode="json")


@router.delete("/thing-models/{thing_model_id}")
async def delete(thing_model_id: str, who: Principal = Depends(principal),
                 svc: Services = Depends(services)) -> dict[str, Any]:
    await asyncio.to_thread(svc.toolbox.thing_models.delete, who, thing_model_id)
    return {"id": thing_model_id, "object": "thing_model", "deleted": True}
