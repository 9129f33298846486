"""The composition root: `create_app(settings)` builds every service exactly once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from maas import __version__
from maas.api import apps as apps_api
from maas.api import factory as factory_api
from maas.api import fine_tuning as fine_tuning_api
from maas.api import health
from maas.api import knowledge as knowledge_api
from maas.api.admin import apps as admin_apps
from maas.api.admin import models as admin_models
from maas.api.admin import tenants as admin_tenants
from maas.api.admin import vouchers as admin_vouchers
from maas.api.errors import install_error_handlers
from maas.api.manage import audit, auth, credits, keys, members, usage
from maas.api.metrics import Metrics
from maas.api.openai import chat, completions, embeddings, models
from maas.api.tools import diagnosis as tool_diagnosis
from maas.api.tools import index as tool_index
from maas.api.tools import parsers as tool_parsers
from maas.api.tools import thing_models as tool_thing_models
from maas.catalog.apps import load_app_packages
from maas.catalog.knowledge import PlatformKnowledgeBase, load_kb_manifests
from maas.catalog.models import load_model_manifests
from maas.console import mount as mount_console
from maas.db.database import Database
from maas.engines.availability import EngineSelector
from maas.engines.registry import ModelRegistry
from maas.engines.router import Router
from maas.engines.supervisor import Supervisor
from maas.engines.upstream import UpstreamClient
from maas.errors import ModelNotFound, ModelNotReady
from maas.factory.service import Factory
from maas.finetune.jobs.runner import FineTuningRunner
from maas.knowledge.embedder import Embedder
from maas.knowledge.platform import PlatformBuilder
from maas.knowledge.service import KnowledgeService
from maas.limits.ratelimit import create_limiter
from maas.metering.meter import Meter
from maas.request_id import RequestIdMiddleware
from maas.services import Services
from maas.settings import Settings
from maas.store.service import AppStore
from maas.store.tools import ToolRegistry
from maas.tenancy.auth_cache import PrincipalCache
from maas.tenancy.bootstrap import bootstrap
from maas.toolbox.service import Toolbox

log = logging.getLogger(__name__)


def open_database(settings: Settings) -> Database:
    """The migrated, bootstrapped database; prints the admin key the one time it is made."""
    settings.ensure_dirs()
    db = Database(settings.database_url)
    db.upgrade()
    with db.session() as session:
        result = bootstrap(session, settings)
    if result.generated_admin_key:
        log.warning(
            "\n\n  Generated the platform admin API key (shown once; also saved to %s):\n"
            "      %s\n", settings.admin_key_file, result.generated_admin_key,
        )
    return db


def open_registry(settings: Settings, db: Database,
                  selector: EngineSelector | None = None) -> ModelRegistry:
    """The model registry, synced with the manifests on disk."""
    registry = ModelRegistry(db, selector or EngineSelector(settings))
    registry.sync(load_model_manifests(settings.models_dir))
    return registry


def knowledge_service(settings: Settings, db: Database,
                      embedder_for: Callable[[str], Embedder]) -> KnowledgeService:
    return KnowledgeService(db, settings.data_dir / "knowledge", embedder_for,
                            int(settings.max_upload_mb * 1_000_000))


def build_services(settings: Settings, selector: EngineSelector | None = None) -> Services:
    """Database, model registry and engine plumbing for one gateway process."""
    db = open_database(settings)
    registry = open_registry(settings, db, selector)
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(settings.upstream_timeout, connect=5.0),
        limits=httpx.Limits(max_connections=512, max_keepalive_connections=128),
    )
    supervisor = Supervisor(settings, registry, http, adapters=registry.adapters_for)
    router = Router(registry, supervisor)
    upstream = UpstreamClient(http)

    def embedder_for(model_id: str) -> Embedder:
        async def post(body: dict[str, Any]) -> dict[str, Any]:
            route = await router.route(model_id)
            return await upstream.post(route, "/embeddings",
                                       {**body, "model": route.upstream_model}, None)

        return Embedder(model_id, post)

    knowledge = knowledge_service(settings, db, embedder_for)

    def model_kind(model_id: str) -> str | None:
        """Apps run on the library's models; a tenant's private fine-tune is not one."""
        record = registry.snapshot.get(model_id)
        return record.kind if record is not None and record.owner is None else None

    toolbox = Toolbox.build(db, settings.parser_builds)
    factory = Factory(db)
    apps = AppStore.build(db, ToolRegistry.default(toolbox=toolbox, factory=factory), model_kind,
                          knowledge.get,
                          load_app_packages(settings.apps_dir))
    services = Services(
        settings=settings, db=db, registry=registry, supervisor=supervisor,
        router=router, upstream=upstream, metrics=Metrics(),
        principals=PrincipalCache(settings.auth_cache_ttl),
        meter=Meter(db, create_limiter(settings.redis_url,
                                       lease_ttl=settings.upstream_timeout + 60),
                    enabled=settings.metering),
        knowledge=knowledge, apps=apps, toolbox=toolbox, factory=factory,
        fine_tuning=FineTuningRunner(settings, db, registry),
    )
    knowledge.on_query_tokens = knowledge_api.meter_searches(services)  # searches embed
    return services


async def _housekeeping(svc: Services) -> None:
    """Release holds orphaned by a crashed replica; expire credit lots past their date."""
    stale_after = svc.settings.upstream_timeout * 2 + 60
    while True:
        try:
            released, expired = await asyncio.to_thread(svc.meter.sweep, stale_after)
            if released or expired:
                log.info("credits: released %d stale holds, expired %d lots", released, expired)
        except Exception:
            log.exception("credit housekeeping failed; retrying later")
        await asyncio.sleep(svc.settings.sweep_interval)


async def _embedding_engine_ready(svc: Services, model_id: str) -> bool:
    """Wait for a local embedding engine to come up; False if it never can."""
    deadline = asyncio.get_running_loop().time() + svc.settings.worker_start_timeout
    while True:
        try:
            await svc.router.route(model_id)
            return True
        except ModelNotFound:
            return False
        except ModelNotReady:
            if (svc.registry.snapshot[model_id].engine is None
                    or asyncio.get_running_loop().time() > deadline):
                return False
            await asyncio.sleep(2)


async def _build_platform_knowledge(svc: Services, kbs: list[PlatformKnowledgeBase]) -> None:
    """Index the platform knowledge bases whose sources changed, in the background."""
    builder = PlatformBuilder(svc.knowledge)
    for kb in kbs:
        model = kb.manifest.embedding_model
        if not await _embedding_engine_ready(svc, model):
            log.warning("knowledge base %s not built: its embedding model %s is not "
                        "available here", kb.id, model)
            continue
        await builder.build(kb)  # logs what it built, or why it failed


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    svc = services or build_services(settings)
    # Loaded here so a broken kb.yaml stops the start, as a broken model manifest does.
    platform_kbs = (load_kb_manifests(settings.knowledge_bases_dir)
                    if settings.build_knowledge_bases else [])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await svc.supervisor.start()
        sweeper = asyncio.create_task(_housekeeping(svc))
        builder = asyncio.create_task(_build_platform_knowledge(svc, platform_kbs))
        await svc.fine_tuning.start()
        try:
            yield
        finally:
            sweeper.cancel()
            builder.cancel()
            await svc.fine_tuning.stop()
            await svc.supervisor.stop()
            await svc.meter.close()
            await svc.upstream.http.aclose()
            svc.db.dispose()

    app = FastAPI(title="Industry MaaS", version=__version__, lifespan=lifespan)
    app.state.services = svc
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    for module in (health, models, chat, completions, embeddings, admin_models, admin_tenants,
                   admin_vouchers, admin_apps, auth, keys, members, usage, audit, credits,
                   knowledge_api, apps_api, tool_index, tool_thing_models, tool_parsers,
                   tool_diagnosis, factory_api, fine_tuning_api):
        app.include_router(module.router)
    mount_console(app)
    return app
