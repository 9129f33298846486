"""`/v1/factory/sessions`: the software factory over HTTP.

Conversation (`messages`, optionally streamed as server-sent events), the spec (get, put,
versions, diff), confirmation, generation with the project's own tests run in the sandbox,
builds (list, get, download as zip) and publishing a passing build as a private app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import principal, services
from maas.api.tools.calls import tool_model_call
from maas.errors import Conflict
from maas.factory.publish import app_package
from maas.factory.service import MAX_MESSAGE_CHARS, build_view, session_view
from maas.factory.spec import Spec
from maas.factory.wording import propose_wording
from maas.services import Services
from maas.store.catalog import app_view
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/v1/factory/sessions", tags=["factory"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateBody(_Body):
    language: Literal["en", "zh"] = "en"
    message: str | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_CHARS)


class MessageBody(_Body):
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    stream: bool = False


class SpecBody(_Body):
    spec: dict[str, Any]
    version: int | None = Field(default=None, ge=1, description="the version you edited")


class WordingBody(_Body):
    model: str | None = Field(default=None, max_length=128)


class ConfirmBody(_Body):
    version: int | None = Field(default=None, ge=1)


class PublishBody(_Body):
    slug: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=128)


def _turn_view(turn: Any, session: dict[str, Any]) -> dict[str, Any]:
    return {"object": "factory.reply", "reply": turn.reply, "changes": turn.changes,
            "questions": turn.questions, "not_understood": turn.not_understood,
            "session": session}


@router.post("", status_code=201)
async def create_session(body: CreateBody, who: Principal = Depends(principal),
                         svc: Services = Depends(services)) -> dict[str, Any]:
    row = await asyncio.to_thread(svc.factory.create, who, body.language)
    if body.message is None:
        return session_view(row)
    turn, view = await asyncio.to_thread(svc.factory.send, who, row.id, body.message)
    return {**view, "reply": _turn_view(turn, view)}


@router.get("")
async def list_sessions(limit: int = Query(50, ge=1, le=200),
                        who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.factory.list, who, limit)
    return {"object": "list", "data": [session_view(r) for r in rows]}


@router.get("/{session_id}")
async def get_session(session_id: str, who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    return session_view(await asyncio.to_thread(svc.factory.get, who, session_id))


@router.post("/{session_id}/messages", response_model=None)
async def send_message(session_id: str, body: MessageBody,
                       who: Principal = Depends(principal),
                       svc: Services = Depends(services)) -> Any:
    turn, view = await asyncio.to_thread(svc.factory.send, who, session_id, body.content)
    result = _turn_view(turn, view)
    if not body.stream:
        return result

    async def events() -> AsyncIterator[str]:
        for line in turn.reply.splitlines(keepends=True):
            delta = {"object": "factory.reply.delta", "delta": line}
            yield f"data: {json.dumps(delta, ensure_ascii=False)}\n\n"
        yield f"data: {json.dumps(result, ensure_ascii=False, default=str)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/{session_id}/messages")
async def list_messages(session_id: str, who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.factory.messages, who, session_id)
    return {"object": "list", "data": [
        {"role": m.role, "content": m.content, "spec_version": m.spec_version,
         "created_at": m.created_at} for m in rows]}


@router.get("/{session_id}/spec")
async def get_spec(session_id: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    view = session_view(await asyncio.to_thread(svc.factory.get, who, session_id))
    return {key: view[key] for key in ("spec", "spec_version", "confirmed", "problems",
                                       "questions")}


@router.put("/{session_id}/spec")
async def put_spec(session_id: str, body: SpecBody, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return await asyncio.to_thread(svc.factory.put_spec, who, session_id, body.spec,
                                   body.version)


@router.post("/{session_id}/wording")
async def word_spec(session_id: str, request: Request, body: WordingBody | None = None,
                    who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    """Let the model write the descriptions, messages and report wording the spec lacks; the
    result is a new spec version (see `changes`) that must be confirmed like any edit."""
    row = await asyncio.to_thread(svc.factory.get, who, session_id)
    call = tool_model_call(svc, request, who, (body.model if body else None)
                           or svc.settings.tool_model, "factory")
    worded, notes = await propose_wording(Spec.model_validate(row.spec), call)
    view = await asyncio.to_thread(svc.factory.put_spec, who, session_id,
                                   worded.model_dump(mode="json"), row.spec_version)
    return {**view, "notes": notes}


@router.get("/{session_id}/versions")
async def list_versions(session_id: str, who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.factory.versions, who, session_id)
    return {"object": "list", "data": [{"version": v.version, "changes": v.changes,
                                        "created_at": v.created_at} for v in rows]}


@router.get("/{session_id}/diff")
async def diff_versions(session_id: str, from_version: int = Query(alias="from", ge=1),
                        to_version: int = Query(alias="to", ge=1),
                        who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    lines = await asyncio.to_thread(svc.factory.diff, who, session_id, from_version,
                                    to_version)
    return {"from": from_version, "to": to_version, "changes": lines}


@router.post("/{session_id}/confirm")
async def confirm(session_id: str, body: ConfirmBody | None = None,
                  who: Principal = Depends(principal),
                  svc: Services = Depends(services)) -> dict[str, Any]:
    version = body.version if body else None
    return await asyncio.to_thread(svc.factory.confirm, who, session_id, version)


@router.post("/{session_id}/generate", status_code=201)
async def generate(session_id: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return build_view(await asyncio.to_thread(svc.factory.generate, who, session_id))


@router.get("/{session_id}/builds")
async def list_builds(session_id: str, who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    rows = await asyncio.to_thread(svc.factory.builds, who, session_id)
    return {"object": "list", "data": [build_view(b) for b in rows]}


@router.get("/{session_id}/builds/{build_id}")
async def get_build(session_id: str, build_id: str, who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    return build_view(await asyncio.to_thread(svc.factory.build, who, session_id, build_id))


@router.get("/{session_id}/builds/{build_id}/download")
async def download_build(session_id: str, build_id: str, who: Principal = Depends(principal),
                         svc: Services = Depends(services)) -> Response:
    build = await asyncio.to_thread(svc.factory.build, who, session_id, build_id)
    return Response(build.archive, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{build.package}-v{build.spec_version}.zip"'})


@router.post("/{session_id}/builds/{build_id}/publish", status_code=201)
async def publish_build(session_id: str, build_id: str, body: PublishBody | None = None,
                        who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    body = body or PublishBody()
    build = await asyncio.to_thread(svc.factory.build, who, session_id, build_id)
    if not build.passed:
        raise Conflict("only a build whose tests passed can be published", param="build_id")
    if build.published_app:
        raise Conflict(f"this build is already published as {build.published_app!r}",
                       param="build_id")
    versions = await asyncio.to_thread(svc.factory.versions, who, session_id)
    spec = Spec.model_validate(next(v.spec for v in versions
                                    if v.version == build.spec_version))
    slug = body.slug or spec.name.replace("_", "-")[:40]
    manifest, prompt, readme = app_package(spec, slug=slug,
                                           model=body.model or svc.settings.tool_model)
    app = await asyncio.to_thread(svc.apps.authoring.create, who, manifest, prompt, readme)
    await asyncio.to_thread(svc.factory.mark_published, who, session_id, build_id, app.slug)
    return app_view(app)
