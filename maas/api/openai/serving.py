"""Forwarding a validated request to its engine: JSON or SSE, metered and cancellable.

Streams are primed (first chunk read) before the response starts, so an engine's 4xx
still reaches the client as a proper HTTP error; after that, errors arrive as an SSE
`error` event. Closing the client connection closes the engine connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from maas.api.openai.grounded import ground_request
from maas.catalog.models import ModelManifest
from maas.engines.router import Route
from maas.engines.upstream import UpstreamStatusError
from maas.errors import EngineUnreachable, InvalidRequest, MaasError, ModelNotFound, UpstreamError
from maas.metering.meter import Admission
from maas.protocol import OpenAIRequest, SamplingRequest, error_body, with_system_prompt
from maas.services import Services
from maas.tenancy.principal import Principal

T = TypeVar("T")
#: Called once when a forwarded request has ended: (status, usage, outcome, answer text).
OnDone = Callable[[int, dict[str, Any] | None, str, str], Awaitable[None]]

DISCONNECT_POLL_SECONDS = 0.25
ENDPOINT_KINDS = {
    "chat.completions": ("chat",),
    "completions": ("chat", "completion"),
    "embeddings": ("embedding",),
}
ENDPOINT_PATHS = {"chat.completions": "/chat/completions", "completions": "/completions",
                  "embeddings": "/embeddings"}
ENDPOINT_HINT = {"chat": "/v1/chat/completions", "completion": "/v1/completions",
                 "embedding": "/v1/embeddings", "rerank": "/v1/rerank"}


def resolve_model(svc: Services, who: Principal, model_id: str, endpoint: str
                  ) -> ModelManifest:
    """The manifest, if this caller may use it on this endpoint (checked before any wait).

    A model outside the caller's plan or key scope answers like an unknown one, as
    OpenAI does: "does not exist or you do not have access to it".
    """
    manifest = svc.router.manifest(model_id, who.tenant_id)
    if not who.may_use_model(manifest.id, manifest.tags):
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have "
                            "access to it.", param="model")
    kind = manifest.kind
    if kind not in ENDPOINT_KINDS[endpoint]:
        raise InvalidRequest(
            f"The model '{manifest.id}' is a {kind} model and cannot serve "
            f"/v1/{endpoint.replace('.', '/')}; use {ENDPOINT_HINT[kind]}.",
            param="model", code="model_not_supported",
        )
    return manifest


async def until_disconnect(request: Request, work: Awaitable[T]) -> T | None:
    """Run `work`, cancelling it if the client goes away first (frees the engine slot)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_SECONDS)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                return None
    finally:
        if not task.done():
            task.cancel()


class Forwarder:
    """One request's trip to its engine and back, observed by the metrics."""

    def __init__(self, svc: Services, request: Request, endpoint: str, route: Route,
                 admission: Admission | None = None, extra: dict[str, Any] | None = None,
                 on_done: OnDone | None = None, public_model: str | None = None) -> None:
        self.svc = svc
        self.alias = public_model  # the name the client asked for, e.g. "app:<slug>"
        self.extra = extra or {}  # extension fields for the response (e.g. citations)
        self.on_done = on_done
        self.answer: list[str] = []  # the answer's text, kept only when on_done wants it
        self.request = request
        self.endpoint = endpoint
        self.route = route
        self.admission = admission
        self.started = time.perf_counter()
        self.request_id: str | None = request.scope.get("state", {}).get("request_id")

    async def _observe(self, status: int, usage: dict[str, int] | None,
                       outcome: str = "ok", streamed_tokens: int = 0) -> None:
        """Metrics and metering for the finished request (metering exactly once)."""
        self.svc.metrics.observe(self.endpoint, self.route.manifest.id, status,
                                 time.perf_counter() - self.started, usage)
        await self.svc.meter.settle(self.admission, usage, status, outcome, streamed_tokens,
                                    self.request_id)
        if self.on_done is not None:
            done, self.on_done = self.on_done, None
            await done(status, usage, outcome, "".join(self.answer))

    @property
    def public_model(self) -> str:
        return self.alias or self.route.manifest.id

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.admission.headers) if self.admission else {}

    def _payload(self, body: dict[str, Any]) -> dict[str, Any]:
        payload = {**body, "model": self.route.upstream_model}
        if isinstance(payload.get("messages"), list):
            payload["messages"] = with_system_prompt(self.route.system_prompt,
                                                     payload["messages"])
        return payload

    def _retryable(self, exc: UpstreamError) -> bool:
        """A local engine that refused the connection or died under the request: the
        request never completed, so after the restart it can safely be sent again."""
        model_id = self.route.manifest.id
        if not self.svc.supervisor.supervises(model_id):
            return False
        return isinstance(exc, EngineUnreachable) or self.svc.supervisor.crashed(model_id)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.svc.upstream.post(self.route, path, self._payload(body),
                                                self.request_id)
        except UpstreamError as exc:
            if not self._retryable(exc):
                raise
            self.route = await self.svc.router.reroute(self.route)  # crashed: retry once
            return await self.svc.upstream.post(self.route, path, self._payload(body),
                                                self.request_id)

    @contextlib.asynccontextmanager
    async def _failures_observed(self) -> AsyncIterator[None]:
        """Count and meter a request that fails before any response bytes went out."""
        try:
            yield
        except UpstreamStatusError as exc:
            await self._observe(exc.status, None, "error")
            raise
        except MaasError:
            await self._observe(502, None, "error")
            raise
        except BaseException:  # cancelled or a bug: still settle the reservation
            await self._observe(499, None, "cancelled")
            raise

    async def fetch(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The engine's JSON answer, metered; None if the client went away first."""
        async with self._failures_observed():
            result = await until_disconnect(self.request, self._post(path, body))
        if result is None:  # client went away; nobody reads this
            await self._observe(499, None, "cancelled")
            return None
        result["model"] = self.public_model
        result.update(self.extra)
        if self.on_done is not None:
            self.answer = [(c.get("message") or {}).get("content") or c.get("text") or ""
                           for c in result.get("choices") or []][:1]
        await self._observe(200, result.get("usage"))
        return result

    async def json(self, path: str, body: dict[str, Any]) -> Response:
        result = await self.fetch(path, body)
        if result is None:
            return Response(status_code=499)
        return JSONResponse(result, headers=self.headers)

    async def stream(self, path: str, body: dict[str, Any], include_usage: bool) -> Response:
        payload = self._payload(body)
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}  # we always meter
        async with self._failures_observed():
            chunks, first = await self._open_stream(path, payload)
        return StreamingResponse(self._relay(first, chunks, include_usage),
                                 media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", **self.headers})

    async def _open_stream(self, path: str, payload: dict[str, Any]
                           ) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any] | None]:
        """Open the engine stream and read its first chunk (retrying once after a crash)."""
        for attempt in (1, 2):
            chunks = self.svc.upstream.stream(self.route, path, payload, self.request_id)
            try:
                return chunks, await anext(chunks, None)
            except UpstreamError as exc:
                if attempt == 2 or not self._retryable(exc):
                    raise
                self.route = await self.svc.router.reroute(self.route)
                payload = {**payload, "model": self.route.upstream_model}
        raise AssertionError("unreachable")

    async def _relay(self, first: dict[str, Any] | None,
                     chunks: AsyncIterator[dict[str, Any]], include_usage: bool
                     ) -> AsyncIterator[str]:
        """Relay the engine's chunks; the extension fields ride on the final chunk (the
        usage chunk, which the engine always sends last because we ask it to)."""
        usage: dict[str, int] | None = None
        status, outcome, streamed = 200, "ok", 0
        extra_sent = not self.extra
        try:
            chunk = first
            while chunk is not None:
                chunk["model"] = self.public_model
                streamed += sum(1 for c in chunk.get("choices") or ()
                                if (c.get("delta") or {}).get("content") or c.get("text"))
                if self.on_done is not None:
                    self.answer.extend((c.get("delta") or {}).get("content") or ""
                                       for c in chunk.get("choices") or ()
                                       if c.get("index", 0) == 0)
                if chunk.get("usage"):
                    usage = chunk["usage"]
                    if not extra_sent:
                        chunk.update(self.extra)
                        extra_sent = True
                    if not include_usage:
                        chunk.pop("usage")
                        if not chunk.get("choices") and not self.extra:
                            chunk = await anext(chunks, None)
                            continue
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
                last = chunk
                chunk = await anext(chunks, None)
            if not extra_sent and first is not None:
                final = {"id": last["id"], "object": last.get("object"),
                         "created": last.get("created"), "model": self.public_model,
                         "choices": [], **self.extra}
                yield f"data: {json.dumps(final, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"
        except (MaasError, UpstreamStatusError) as exc:
            status, outcome = 502, "error"
            message = exc.message if isinstance(exc, MaasError) else str(exc.body)
            yield f"data: {json.dumps(error_body(message, 'server_error'))}\n\n"
        except (asyncio.CancelledError, GeneratorExit):
            status, outcome = 499, "cancelled"
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await chunks.aclose()  # type: ignore[attr-defined]
                await self._observe(status, usage, outcome if usage is None else
                                    ("ok" if status == 200 else outcome), streamed)


def _cap_completion(payload: dict[str, Any], admission: Admission | None) -> None:
    """Forward the completion budget the credits afford, so the cost cannot exceed the hold."""
    if admission is None or admission.reservation.hold_id is None:
        return
    budget = admission.max_completion
    if budget is None or admission.endpoint == "embeddings":
        return
    per_choice = max(1, budget // max(1, int(payload.get("n") or 1)))
    payload.pop("max_completion_tokens", None)
    payload["max_tokens"] = per_choice


async def open_forwarder(svc: Services, request: Request, who: Principal,
                         manifest: ModelManifest, endpoint: str, payload: dict[str, Any],
                         app_id: str | None = None, **options: Any) -> Forwarder:
    """Admit the request and route it; the admission is undone if routing fails. The
    payload's completion budget is capped to what the credits afford."""
    request_id = request.scope.get("state", {}).get("request_id")
    admission = await svc.meter.admit(who, manifest, endpoint, payload, request_id, app_id)
    try:
        route = await svc.router.route(manifest.id)
    except BaseException:
        await svc.meter.cancel(admission)
        raise
    _cap_completion(payload, admission)
    return Forwarder(svc, request, endpoint, route, admission, **options)


async def forward(svc: Services, request: Request, endpoint: str, body: OpenAIRequest,
                  who: Principal) -> Response:
    """The whole trip for one validated `/v1` request: admit, route, JSON or SSE, settle."""
    manifest = resolve_model(svc, who, body.model, endpoint)  # type: ignore[attr-defined]
    payload = body.model_dump(exclude_unset=True, exclude_none=True)
    extra: dict[str, Any] = {}
    if payload.get("knowledge_bases"):
        payload, extra["citations"] = await ground_request(svc, who, manifest, payload)
    forwarder = await open_forwarder(svc, request, who, manifest, endpoint, payload,
                                     extra=extra)
    path = ENDPOINT_PATHS[endpoint]
    if isinstance(body, SamplingRequest) and body.stream:
        return await forwarder.stream(path, payload, body.include_usage_in_stream())
    return await forwarder.json(path, payload)
