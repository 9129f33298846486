"""Every error leaves the gateway in OpenAI's envelope with OpenAI's status codes."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from maas.engines.upstream import UpstreamStatusError
from maas.errors import (
    Conflict,
    InsufficientCredits,
    InvalidRequest,
    MaasError,
    ModelNotFound,
    ModelNotReady,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
)
from maas.knowledge.uploads import DocumentTooLarge, UnreadableDocument, UnsupportedDocument
from maas.protocol import error_body, validation_error_message

log = logging.getLogger(__name__)


class AuthError(Exception):
    def __init__(self, message: str, code: str = "invalid_api_key", status: int = 401) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


_STATUS: list[tuple[type[MaasError], int, str]] = [
    (ModelNotFound, 404, "invalid_request_error"),
    (NotFound, 404, "invalid_request_error"),
    (InvalidRequest, 400, "invalid_request_error"),
    (PermissionDenied, 403, "permission_error"),
    (Conflict, 409, "invalid_request_error"),
    (DocumentTooLarge, 413, "invalid_request_error"),
    (UnsupportedDocument, 415, "invalid_request_error"),
    (UnreadableDocument, 422, "invalid_request_error"),
    (RateLimited, 429, "requests"),
    (QuotaExceeded, 429, "insufficient_quota"),
    (InsufficientCredits, 402, "insufficient_quota"),
    (ModelNotReady, 503, "service_unavailable"),
    (ServiceUnavailable, 503, "service_unavailable"),
    (UpstreamError, 502, "server_error"),
]


def error_response(status: int, message: str, type_: str, param: str | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse(error_body(message, type_, param, code), status_code=status,
                        headers=headers)


def _headers(exc: MaasError, status: int) -> dict[str, str] | None:
    """Retry hints: `Retry-After` where waiting helps, `x-should-retry: false` (which the
    openai SDK honours) where it cannot (quota or credits used up, a request too large)."""
    if isinstance(exc, RateLimited):
        headers = dict(exc.headers)
        if exc.retry_after is None:
            headers["x-should-retry"] = "false"
        else:
            headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
        return headers
    if isinstance(exc, (QuotaExceeded, InsufficientCredits)):
        return {"x-should-retry": "false"}
    if status == 503:
        return {"retry-after": "5"}
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_error_message(exc.errors())
        return error_response(400, message, "invalid_request_error", param, "invalid_value")

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        type_ = "invalid_request_error" if exc.status == 401 else "permission_error"
        return error_response(exc.status, exc.message, type_, None, exc.code)

    @app.exception_handler(MaasError)
    async def _domain(_: Request, exc: MaasError) -> JSONResponse:
        for cls, status, type_ in _STATUS:
            if isinstance(exc, cls):
                return error_response(status, exc.message, type_, exc.param, exc.code,
                                      _headers(exc, status))
        return error_response(400, exc.message, "invalid_request_error", exc.param, exc.code)

    @app.exception_handler(UpstreamStatusError)
    async def _upstream(_: Request, exc: UpstreamStatusError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = "not_found" if exc.status_code == 404 else None
        return error_response(exc.status_code, str(exc.detail), type_, None, code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "The server had an error while processing your request.",
                              "server_error", None, "internal_error")
