"""`/healthz` (process up), `/readyz` (which models can serve) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from maas.api.deps import services
from maas.engines.registry import DISABLED, READY, UNAVAILABLE
from maas.services import Services

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(svc: Services = Depends(services)) -> JSONResponse:
    """200 when the database answers and every enabled, runnable model is ready.

    Models that cannot run here (unavailable) or were disabled do not hold readiness back;
    they are listed with their reason.
    """

    def db_ok() -> bool:
        try:
            with svc.db.session() as session:
                session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            return True
        except Exception:  # noqa: BLE001 - any failure means not ready
            return False

    database = await asyncio.to_thread(db_ok)
    models = {
        r.id: {"status": r.status, "reason": r.status_reason, "engine": r.engine}
        for r in svc.registry.snapshot.values()
    }
    waiting = [m for m, s in models.items() if s["status"] not in (READY, UNAVAILABLE, DISABLED)]
    ready = database and not waiting
    for model_id, info in models.items():
        svc.metrics.model_ready.labels(model_id).set(1 if info["status"] == READY else 0)
    body = {"status": "ready" if ready else "not_ready", "database": database,
            "ready_models": sorted(m for m, s in models.items() if s["status"] == READY),
            "waiting_for": sorted(waiting), "models": models}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(svc: Services = Depends(services)) -> Response:
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
