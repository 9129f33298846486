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


class Conflict(MaasError):
    """The request clashes with the current state (a duplicate, a used voucher)."""

    code = "conflict"


class RateLimited(MaasError):
    """Over a per-minute or concurrency limit: retry after `retry_after` seconds."""

    code = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after: float | None,
                 headers: dict[str, str] | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.headers = headers or {}


class QuotaExceeded(MaasError):
    """The monthly token quota is used up; retrying does not help until the period ends."""

    code = "quota_exceeded"


class InsufficientCredits(MaasError):
    """Not enough credits for the request; redeem a voucher or ask for a grant."""

    code = "insufficient_credits"


class ServiceUnavailable(MaasError):
    """A platform service the request depends on (the shared rate limiter) is down."""

    code = "service_unavailable"
