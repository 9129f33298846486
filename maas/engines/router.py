"""Router: model id -> the engine endpoint that serves it right now."""

from __future__ import annotations

import os
from dataclasses import dataclass

from maas.catalog.models import WORKER_ENGINES, ModelManifest
from maas.engines.registry import ModelRegistry
from maas.engines.supervisor import Supervisor
from maas.errors import ModelNotFound, ModelNotReady


@dataclass(frozen=True)
class Route:
    manifest: ModelManifest
    base_url: str
    upstream_model: str
    api_key: str | None = None
    #: The manifest's system prompt, when the engine does not add it itself (only the CPU
    #: worker does): the gateway puts it in front of a chat that has none.
    system_prompt: str | None = None


class Router:
    def __init__(self, registry: ModelRegistry, supervisor: Supervisor,
                 ready_wait: float = 30.0) -> None:
        self.registry = registry
        self.supervisor = supervisor
        self.ready_wait = ready_wait

    def manifest(self, model_id: str, tenant_id: str | None = None) -> ModelManifest:
        """The manifest of an enabled model; 404 for unknown or disabled ones, and for
        another tenant's private model when `tenant_id` is given."""
        record = self.registry.snapshot.get(model_id)
        manifest = self.registry.manifests.get(model_id)
        if (record is None or manifest is None
                or (tenant_id is not None and manifest.owner not in (None, tenant_id))):
            raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
        if not record.enabled:
            raise ModelNotFound(f"The model '{model_id}' is disabled on this platform",
                                param="model")
        return manifest

    async def route(self, model_id: str) -> Route:
        manifest = self.manifest(model_id)
        record = self.registry.snapshot[model_id]
        if record.engine is None:
            raise ModelNotReady(
                f"The model '{model_id}' is unavailable on this deployment: "
                f"{record.status_reason}"
            )
        spec = next(e for e in manifest.engines if e.kind == record.engine)
        prompt = manifest.system_prompt if spec.kind not in WORKER_ENGINES else None
        if spec.kind == "remote":
            assert spec.base_url is not None
            key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
            return Route(manifest, spec.base_url.rstrip("/"), spec.upstream_model or manifest.id,
                         key, prompt)
        if not self.supervisor.is_ready(model_id) and not await self.supervisor.wait_ready(
            model_id, self.ready_wait
        ):
            reason = self.registry.snapshot[model_id].status_reason or "still loading"
            raise ModelNotReady(f"The model '{model_id}' is not ready yet ({reason}); "
                                "retry shortly")
        base_url = self.supervisor.base_url(model_id)
        if base_url is None:
            await self.supervisor.wait_ready(model_id, self.ready_wait)
            base_url = self.supervisor.base_url(model_id)
        if base_url is None:
            raise ModelNotReady(f"The model '{model_id}' is restarting; retry shortly")
        return Route(manifest, base_url, manifest.id, system_prompt=prompt)

    async def reroute(self, route: Route) -> Route:
        """After a connection failure to a local engine: wait for its restart, route again."""
        self.supervisor.mark_unreachable(route.manifest.id)
        return await self.route(route.manifest.id)
