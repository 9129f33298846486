"""The console's way to read and change data: the JSON API itself, called in process.

Every page calls the same route a key holder would call, with the signed-in user's session
token as the bearer. So tenant scoping, roles, validation, metering and audit are the API's
own, and a console page can never show what the API would refuse: there is no second path
to the data to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request


class ApiError(Exception):
    """An API answer with status >= 400, carried to the console's error page or a flash."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class ApiClient:
    request: Request
    token: str | None

    async def call(self, method: str, path: str, *, json: Any = None,
                   params: dict[str, Any] | None = None,
                   files: dict[str, Any] | None = None) -> httpx.Response:
        """The raw response (for CSV downloads); `send` is the usual way."""
        client_addr = self.request.client
        transport = httpx.ASGITransport(
            app=self.request.app,
            client=(client_addr.host, client_addr.port) if client_addr else ("127.0.0.1", 0))
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        async with httpx.AsyncClient(transport=transport, base_url="http://console.internal",
                                     timeout=None) as http:
            return await http.request(method, path, json=json, params=clean, files=files,
                                      headers=headers)

    async def send(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.send("GET", path, params=params)

    async def post(self, path: str, body: Any = None) -> Any:
        return await self.send("POST", path, json=body if body is not None else {})


def _error(response: httpx.Response) -> ApiError:
    try:
        error = response.json().get("error") or {}
        message, code = str(error.get("message") or response.reason_phrase), error.get("code")
    except ValueError:
        message, code = response.text[:300] or response.reason_phrase, None
    return ApiError(response.status_code, message, code)
