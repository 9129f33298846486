"""Worker errors in OpenAI's envelope, so clients and the gateway see familiar 4xx/5xx."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from maas.protocol import error_body, validation_error_message

log = logging.getLogger(__name__)


class WorkerError(Exception):
    """Raised by handlers; rendered as `{"error": {...}}` with `status`."""

    def __init__(self, message: str, param: str | None = None, status: int = 400,
                 type_: str = "invalid_request_error", code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.status = message, param, status
        self.type, self.code = type_, code


class PromptTooLong(ValueError):
    """The prompt leaves no room to generate within the model's context."""


def unsupported(param: str, what: str | None = None) -> WorkerError:
    return WorkerError(f"'{param}' is not supported by this model server"
                       + (f": {what}" if what else "."), param=param,
                       code="unsupported_parameter")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WorkerError)
    async def _worker_error(_: Request, exc: WorkerError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.type, exc.param, exc.code),
                            status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_error_message(exc.errors())
        return JSONResponse(error_body(message, "invalid_request_error", param),
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return JSONResponse(error_body(str(exc.detail), type_), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("The model server had an internal error.",
                                       "server_error"), status_code=500)
