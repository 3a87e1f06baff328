"""Errors of the /v1 gateway and their one rendering: OpenAI's `{"error": {...}}` body.

`GatewayError` covers what we refuse ourselves (bad body, key, scope, model);
upstream failures arrive as `providers.adapters.errors.ProviderError` and
configuration lookups as `providers.exceptions.ConfigError`. `as_gateway_error()`
turns any of them into one shape, so the view, the SSE writer, the request log
and the Python API all speak the same categories and statuses (SPEC §6).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from configsite.cache_guard import CacheUnavailable
from providers.adapters.errors import ProviderError
from providers.exceptions import AmbiguousModel, ConfigError, InvalidModel

logger = logging.getLogger(__name__)


class GatewayError(Exception):
    """An error we answer ourselves; subclasses fix the status, OpenAI `type` and log category."""

    status_code = 400
    error_type = "invalid_request_error"
    category = "invalid_request"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code


class InvalidRequest(GatewayError):
    """The body is not a valid chat completion request (400)."""


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "request_too_large"


class MethodNotAllowed(GatewayError):
    status_code = 405
    code = "method_not_allowed"


class Unauthenticated(GatewayError):
    """No usable credentials: OpenAI answers 401 `invalid_request_error` / `invalid_api_key`."""

    status_code = 401
    category = "authentication"
    code = "invalid_api_key"


class Forbidden(GatewayError):
    status_code = 403
    error_type = "permission_error"
    category = "permission"
    code = "insufficient_permissions"


class ModelNotFound(GatewayError):
    status_code = 404
    category = "not_found"
    code = "model_not_found"


class ServiceUnavailable(GatewayError):
    """The shared cache is down and the process cannot serve this request from what it holds (503)."""

    status_code = 503
    error_type = "server_error"
    category = "unavailable"
    code = "service_unavailable"
    retry_after = CacheUnavailable.retry_after

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "ModelDesk's cache is unavailable and this request cannot be served without it; retry shortly."
        )


@dataclass(slots=True)
class ErrorInfo:
    """One error in every shape we need: HTTP status, OpenAI body, log category, extra headers."""

    status_code: int
    category: str
    message: str
    error_type: str
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}

    def response_headers(self) -> dict[str, str]:
        """Headers of the error response: `Retry-After` when given, and what 401 and 405 call for."""
        headers = dict(self.headers)
        if self.status_code == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="modeldesk"'
        if self.status_code == 405:
            headers["Allow"] = "POST"
        return headers


class ChatError(Exception):
    """A chat request failed; `info` says how (raised by `chat.service` for every failure)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info

    @property
    def status_code(self) -> int:
        return self.info.status_code

    @property
    def category(self) -> str:
        return self.info.category


def as_gateway_error(exc: BaseException) -> ErrorInfo:
    """The `ErrorInfo` of any exception raised while serving a chat request.

    Unknown exceptions are our bugs: logged with their traceback, answered as a
    500 whose message reveals nothing (no exception text can carry a secret out).
    """
    if isinstance(exc, ChatError):
        return exc.info
    if isinstance(exc, CacheUnavailable):
        exc = ServiceUnavailable()
    if isinstance(exc, ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after)}
        return ErrorInfo(exc.status_code, exc.category, exc.message, exc.error_type, None, exc.code, headers=headers)
    if isinstance(exc, GatewayError):
        return ErrorInfo(exc.status_code, exc.category, exc.message, exc.error_type, exc.param, exc.code)
    if isinstance(exc, ProviderError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        return ErrorInfo(
            exc.status_code, exc.category, exc.message, exc.error_type, exc.param, exc.code, headers=headers
        )
    if isinstance(exc, AmbiguousModel):
        return ErrorInfo(400, "invalid_request", exc.message, "invalid_request_error", "model", "model_ambiguous")
    if isinstance(exc, InvalidModel):
        return ErrorInfo(404, "not_found", exc.message, "invalid_request_error", "model", "model_not_found")
    if isinstance(exc, ConfigError):
        return ErrorInfo(exc.status_code, "invalid_request", exc.message, "invalid_request_error", exc.field)
    logger.error("Unexpected error while serving a chat request", exc_info=exc)
    return ErrorInfo(500, "internal", "The gateway failed unexpectedly; the error is logged.", "api_error", None, None)
