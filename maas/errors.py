"""Domain errors, free of HTTP. The API edge maps each to a status and OpenAI's envelope."""

from __future__ import annotations


class MaasError(Exception):
    """Base class; `param` names the offending input where there is one."""

    code: str = "error"

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code:
            self.code = code


class NotFound(MaasError):
    code = "not_found"


class InvalidRequest(MaasError):
    code = "invalid_value"


class PermissionDenied(MaasError):
    code = "permission_denied"


class ModelNotFound(NotFound):
    code = "model_not_found"


class ModelNotReady(MaasError):
    code = "model_not_ready"


class UpstreamError(MaasError):
    """An engine failed or could not be reached."""

    code = "upstream_error"


class EngineUnreachable(UpstreamError):
    """Nothing listens at the engine's address (e.g. it just crashed): safe to retry."""

    code = "engine_unreachable"
