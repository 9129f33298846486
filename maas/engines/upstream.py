"""HTTP client for OpenAI-compatible engines: one JSON call or a stream of SSE chunks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from maas.engines.router import Route
from maas.errors import EngineUnreachable, UpstreamError


class UpstreamStatusError(Exception):
    """The engine answered with an error status; its (OpenAI-shaped) body is kept."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"upstream answered {status}")
        self.status = status
        self.body = body


def _headers(route: Route, request_id: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if route.api_key:
        headers["authorization"] = f"Bearer {route.api_key}"
    if request_id:
        headers["x-request-id"] = request_id
    return headers


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    raw = await response.aread()
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or "error" not in body:
            raise ValueError
    except ValueError:
        text = raw.decode("utf-8", errors="replace")[:500]
        body = {"error": {"message": f"engine error: {text}", "type": "server_error",
                          "param": None, "code": "upstream_error"}}
    status = response.status_code if response.status_code < 500 else 502
    raise UpstreamStatusError(status, body)


class UpstreamClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, route: Route, path: str, body: dict[str, Any],
                   request_id: str | None = None) -> dict[str, Any]:
        try:
            response = await self.http.post(route.base_url + path, json=body,
                                            headers=_headers(route, request_id))
        except httpx.ConnectError as exc:
            raise EngineUnreachable(f"engine for '{route.manifest.id}' unreachable: {exc!r}"
                                    ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"engine for '{route.manifest.id}' unreachable: {exc!r}") from exc
        await _raise_for_status(response)
        return response.json()

    async def stream(self, route: Route, path: str, body: dict[str, Any],
                     request_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """Yield each SSE `data:` chunk as a dict until `[DONE]`.

        Closing this generator (client gone) closes the upstream connection, which makes the
        engine cancel the generation and free its slot.
        """
        try:
            async with self.http.stream("POST", route.base_url + path, json=body,
                                        headers=_headers(route, request_id)) as response:
                await _raise_for_status(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield json.loads(data)
        except httpx.ConnectError as exc:
            raise EngineUnreachable(f"engine for '{route.manifest.id}' unreachable: {exc!r}"
                                    ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"engine for '{route.manifest.id}' failed: {exc!r}") from exc
