"""`/v1/apps`: the app store's catalogue, tenants' own apps, subscriptions, runs and traces.

In the style of the OpenAI surface (objects with `object`, lists with `data`, errors in
OpenAI's envelope). Running a chat app is `/v1/chat/completions` with `model: "app:<slug>"`;
a form app runs here, with `POST /v1/apps/{slug}/runs`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from maas.api.deps import principal, services
from maas.api.openai.app_runs import form_run
from maas.catalog.apps import MAX_PROMPT_CHARS, MAX_README_CHARS
from maas.errors import NotFound
from maas.services import Services
from maas.store.catalog import app_view
from maas.store.runs import run_view
from maas.tenancy.principal import Principal

router = APIRouter(prefix="/v1/apps", tags=["apps"])


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest: dict[str, Any] = Field(description="app.yaml's fields (slug, title, model, "
                                                 "knowledge_bases, tools, ...)")
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    readme: str = Field(default="", max_length=MAX_README_CHARS)


class AppUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest: dict[str, Any] | None = None
    prompt: str | None = Field(default=None, min_length=1, max_length=MAX_PROMPT_CHARS)
    readme: str | None = Field(default=None, max_length=MAX_README_CHARS)


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: dict[str, Any] = Field(default_factory=dict)


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)


def _listing(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data}


@router.get("")
async def list_apps(industry: str | None = None, category: str | None = None,
                    q: str | None = Query(default=None, max_length=100),
                    kind: str | None = None, mine: bool = False,
                    who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    return _listing(await asyncio.to_thread(svc.apps.catalog.list, who, industry, category,
                                            q, kind, mine))


@router.post("", status_code=201)
async def create_app(body: AppCreate, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    readme = body.readme or f"# {body.manifest.get('slug', 'app')}\n"
    app = await asyncio.to_thread(svc.apps.authoring.create, who, body.manifest, body.prompt,
                                  readme)
    return await asyncio.to_thread(svc.apps.catalog.detail, who, app.slug)


@router.get("/subscriptions")
async def list_subscriptions(who: Principal = Depends(principal),
                             svc: Services = Depends(services)) -> dict[str, Any]:
    return _listing(await asyncio.to_thread(svc.apps.subscriptions.list, who))


@router.get("/runs")
async def list_all_runs(limit: int = Query(default=50, ge=1, le=200),
                        who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    runs = await asyncio.to_thread(svc.apps.runs.list, who, None, limit)
    return _listing([run_view(r, steps=False) for r in runs])


@router.get("/tools")
async def list_tools(who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    return _listing(svc.apps.tools.describe())


@router.get("/{slug}")
async def show_app(slug: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return await asyncio.to_thread(svc.apps.catalog.detail, who, slug)


@router.patch("/{slug}")
async def update_app(slug: str, body: AppUpdate, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    await asyncio.to_thread(svc.apps.authoring.update, who, slug, body.manifest, body.prompt,
                            body.readme)
    return await asyncio.to_thread(svc.apps.catalog.detail, who, slug)


@router.delete("/{slug}")
async def delete_app(slug: str, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    await asyncio.to_thread(svc.apps.authoring.delete, who, slug)
    return {"id": f"app:{slug}", "object": "app", "deleted": True}


@router.get("/{slug}/versions")
async def list_versions(slug: str, who: Principal = Depends(principal),
                        svc: Services = Depends(services)) -> dict[str, Any]:
    return _listing(await asyncio.to_thread(svc.apps.catalog.versions, who, slug))


@router.post("/{slug}/submit")
async def submit_app(slug: str, who: Principal = Depends(principal),
                     svc: Services = Depends(services)) -> dict[str, Any]:
    app = await asyncio.to_thread(svc.apps.authoring.submit, who, slug)
    return app_view(app)


@router.post("/{slug}/subscription", status_code=201)
async def subscribe(slug: str, body: SubscriptionBody | None = None,
                    who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    settings = body.settings if body else {}
    return await asyncio.to_thread(svc.apps.subscriptions.subscribe, who, slug, settings)


@router.get("/{slug}/subscription")
async def show_subscription(slug: str, who: Principal = Depends(principal),
                            svc: Services = Depends(services)) -> dict[str, Any]:
    return await asyncio.to_thread(svc.apps.subscriptions.get, who, slug)


@router.patch("/{slug}/subscription")
async def update_subscription(slug: str, body: SubscriptionBody,
                              who: Principal = Depends(principal),
                              svc: Services = Depends(services)) -> dict[str, Any]:
    return await asyncio.to_thread(svc.apps.subscriptions.update, who, slug, body.settings)


@router.delete("/{slug}/subscription")
async def unsubscribe(slug: str, who: Principal = Depends(principal),
                      svc: Services = Depends(services)) -> dict[str, Any]:
    await asyncio.to_thread(svc.apps.subscriptions.unsubscribe, who, slug)
    return {"object": "app.subscription", "app": slug, "deleted": True}


@router.post("/{slug}/runs", response_model=None)
async def run_form(slug: str, body: RunBody, request: Request,
                   who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any] | Response:
    result = await form_run(svc, request, who, slug, body.inputs)
    return Response(status_code=499) if result is None else result


@router.get("/{slug}/runs")
async def list_runs(slug: str, limit: int = Query(default=50, ge=1, le=200),
                    who: Principal = Depends(principal),
                    svc: Services = Depends(services)) -> dict[str, Any]:
    runs = await asyncio.to_thread(svc.apps.runs.list, who, slug, limit)
    return _listing([run_view(r, steps=False) for r in runs])


@router.get("/{slug}/runs/{run_id}")
async def show_run(slug: str, run_id: str, who: Principal = Depends(principal),
                   svc: Services = Depends(services)) -> dict[str, Any]:
    return run_view(await asyncio.to_thread(svc.apps.runs.get, who, run_id, slug))


@router.get("/{slug}/runs/{run_id}/document", response_model=None)
async def run_document(slug: str, run_id: str, format: str = Query(default="html",
                                                                   pattern="^(html|md)$"),
                       who: Principal = Depends(principal),
                       svc: Services = Depends(services)) -> Response:
    """A document app's report as a file (HTML or Markdown)."""
    run = await asyncio.to_thread(svc.apps.runs.get, who, run_id, slug)
    output = run.output or {}
    if output.get("type") != "document":
        raise NotFound(f"run {run_id!r} produced no document", param="run_id")
    filename = f"{slug}-{run_id}.{format}"
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    if format == "md":
        return Response(output.get("content", ""), media_type="text/markdown; charset=utf-8",
                        headers=headers)
    page = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>"
            f"{slug}</title></head><body>{output.get('html', '')}</body></html>")
    return Response(page, media_type="text/html; charset=utf-8", headers=headers)
