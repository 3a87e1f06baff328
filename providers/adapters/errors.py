"""Our own error categories for upstream failures (SPEC §6); never subclasses of a vendor's.

Each SDK's exceptions are mapped once, at the adapter boundary (see the
`map_*_error` function in each adapter module), to one of these classes. The
`/v1` error handler renders them as OpenAI's `{"error": {...}}` body.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from providers.adapters.sanitize import MAX_MESSAGE, excerpt, retry_after_value
from providers.adapters.sanitize import token as _code

__all__ = ["MAX_MESSAGE", "excerpt", "retry_after_value"]  # re-exported: callers know them as errors.*


class ProviderError(Exception):
    """Base of upstream errors. Subclasses fix `category`, `status_code`, `error_type`."""

    category = "upstream_unavailable"
    status_code = 502
    error_type = "api_error"
    default_message = "The upstream provider failed."

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str | None = None,
        upstream_status: int | None = None,
        upstream_request_id: str | None = None,
        retry_after: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.provider = provider
        self.upstream_status = upstream_status
        self.upstream_request_id = upstream_request_id
        self.retry_after = retry_after
        self.param = param
        self.code = code or self.category

    def as_openai(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}


class InvalidRequestError(ProviderError):
    category, status_code, error_type = "invalid_request", 400, "invalid_request_error"
    default_message = "The upstream provider rejected the request."


class AuthenticationError(ProviderError):
    category, status_code, error_type = "authentication", 401, "authentication_error"
    default_message = "The upstream provider rejected the configured API key."


class PermissionDeniedError(ProviderError):
    category, status_code, error_type = "permission", 403, "permission_error"
    default_message = "The configured API key may not use this model or resource."


class NotFoundError(ProviderError):
    category, status_code, error_type = "not_found", 404, "not_found_error"
    default_message = "The upstream provider does not know this model or resource."


class RateLimitError(ProviderError):
    category, status_code, error_type = "rate_limit", 429, "rate_limit_error"
    default_message = "The upstream provider is rate limiting requests."


class TimeoutError(ProviderError):  # noqa: A001  (the category's name; never shadows at import sites)
    category, status_code, error_type = "timeout", 504, "timeout_error"
    default_message = "The upstream provider did not answer within the provider's timeout."


class ContextLengthError(ProviderError):
    category, status_code, error_type = "context_length", 400, "invalid_request_error"
    default_message = "The request is longer than the model's context window."


class UpstreamUnavailableError(ProviderError):
    category, status_code, error_type = "upstream_unavailable", 502, "api_error"
    default_message = "The upstream provider failed or is overloaded."


class ConnectionError(ProviderError):  # noqa: A001
    category, status_code, error_type = "connection", 502, "api_connection_error"
    default_message = "Could not connect to the upstream provider."


class ResponseTooLargeError(UpstreamUnavailableError):
    """The upstream's answer passed one of ModelDesk's size limits while it was read (providers/adapters/limits.py)."""

    default_message = "The upstream's answer exceeded ModelDesk's size limit."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("code", "upstream_response_too_large")
        super().__init__(message, **kwargs)


class PoolFullError(ProviderError):
    """ModelDesk's own connection pool for the provider had no free connection in time: our capacity, not the
    upstream's. Category `capacity`, 503 with `Retry-After: 1` (the SDKs retry it themselves)."""

    category, status_code, error_type = "capacity", 503, "api_error"
    default_message = "ModelDesk's connection pool for this provider is full."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("code", "connection_pool_full")
        kwargs.setdefault("retry_after", "1")
        super().__init__(message, **kwargs)


class MisconfiguredProviderError(UpstreamUnavailableError):
    """The provider's settings cannot be sent as they are (an `extra_headers` entry that is not a valid header)."""

    default_message = "The provider is misconfigured; nothing was sent upstream."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("code", "provider_misconfigured")
        super().__init__(message, **kwargs)


class ConfigurationError(ProviderError):
    """The provider cannot be called as configured (no key, key cannot be decrypted)."""

    category, status_code, error_type = "authentication", 401, "authentication_error"
    default_message = "The provider is not configured with a usable API key."


#: category → class, for code that only knows the category (logs, tests).
BY_CATEGORY: dict[str, type[ProviderError]] = {
    cls.category: cls
    for cls in (
        InvalidRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        RateLimitError,
        TimeoutError,
        ContextLengthError,
        UpstreamUnavailableError,
        ConnectionError,
        PoolFullError,
    )
}


def error_for_status(status: int) -> type[ProviderError]:
    """The category of an upstream HTTP status (shared by both SDK mappings)."""
    if status == 400 or status == 422:
        return InvalidRequestError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 408:
        return TimeoutError
    if status == 413:
        return ContextLengthError
    if status == 429:
        return RateLimitError
    return UpstreamUnavailableError


# --- mapping upstream answers to categories (shared by both SDKs' mappers) ------------

#: Anything shaped like an API key or bearer token: never echoed from an upstream message.
_SECRET_PATTERN = re.compile(
    r"\b(?:sk|pk|rk|ak|key|token|sess)[-_][A-Za-z0-9_\-*.]{6,}|\bBearer\s+\S+|\bAIza[0-9A-Za-z_\-]{20,}",
    re.IGNORECASE,
)
_CONTEXT_LENGTH_HINTS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "maximum context",
    "request_too_large",
    "reduce the length",
)
#: Error `type`/`code` values of in-stream errors (no HTTP status) → category.
_BY_ERROR_TYPE: dict[str, type[ProviderError]] = {
    "invalid_request_error": InvalidRequestError,
    "authentication_error": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "not_found_error": NotFoundError,
    "model_not_found": NotFoundError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "requests": RateLimitError,
    "insufficient_quota": RateLimitError,
    "timeout_error": TimeoutError,
    "request_too_large": ContextLengthError,
    "context_length_exceeded": ContextLengthError,
}


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secrets and anything that looks like a key replaced by `[redacted]`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _SECRET_PATTERN.sub("[redacted]", text)


def _message_and_code(body: Any, secrets: Iterable[str] = ()) -> tuple[str, str | None]:
    """The upstream's message and its most specific code/type, from either vendor's error body."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return excerpt(scrub(body[: MAX_MESSAGE * 50], secrets)), None
    if not isinstance(body, dict):
        return "", None
    error = body.get("error", body)
    if isinstance(error, str):
        return excerpt(scrub(error[: MAX_MESSAGE * 50], secrets)), None
    if not isinstance(error, dict):
        return "", None
    message = error.get("message") or ""
    code = error.get("code") or error.get("type")
    return excerpt(scrub(str(message)[: MAX_MESSAGE * 50], secrets)), None if code is None else _code(code)


def error_from_response(
    status: int | None,
    headers: Mapping[str, str] | None,
    body: Any,
    *,
    provider: str | None = None,
    secrets: Iterable[str] = (),
    request_id: str | None = None,
) -> ProviderError:
    """Our error for an upstream error answer (`status` None: an error event inside a 200 stream)."""
    message, code = _message_and_code(body, secrets)
    name = f"Upstream provider {provider!r}" if provider else "The upstream provider"
    if status is not None and 300 <= status < 400:
        cls: type[ProviderError] = UpstreamUnavailableError
        message = f"{name} answered a redirect ({status}); redirects are not followed."
    else:
        if status is None or status < 400:
            cls = _BY_ERROR_TYPE.get(code or "", UpstreamUnavailableError)
        else:
            cls = error_for_status(status)
        hint = f"{code or ''} {message}".lower()
        if cls is InvalidRequestError and any(h in hint for h in _CONTEXT_LENGTH_HINTS):
            cls = ContextLengthError
        where = f"answered {status}" if status is not None and status >= 400 else "sent an error mid-stream"
        message = f"{name} {where}: {message or cls.default_message}"
    if headers is not None and request_id is None:
        request_id = headers.get("x-request-id") or headers.get("request-id")
    if request_id is not None:
        request_id = _code(request_id)
    return cls(
        scrub(message, secrets),
        provider=provider,
        upstream_status=status,
        upstream_request_id=request_id,
        retry_after=retry_after_value(headers) if cls in (RateLimitError, UpstreamUnavailableError) else None,
        code=None if code is None or cls is UpstreamUnavailableError else scrub(code, secrets),
    )


def map_provider_error(exc: BaseException, *, provider: Any = None) -> ProviderError:
    """Our error for anything an adapter call raised, whichever SDK raised it.

    `provider` is a `ProviderInfo` (its key is then scrubbed from messages) or a slug.
    Each SDK's own mapping lives in its adapter module (the SDKs are imported only there).
    """
    if isinstance(exc, ProviderError):
        return exc
    slug = getattr(provider, "slug", provider)
    secrets: list[str] = []
    if provider is not None and hasattr(provider, "api_key_token"):
        from providers.adapters.clients import api_key

        with contextlib.suppress(ProviderError):
            secrets.append(api_key(provider))
    module = type(exc).__module__.split(".")[0]
    if module == "openai":
        from providers.adapters.openai_sdk import map_openai_error

        return map_openai_error(exc, provider=slug, secrets=secrets)
    if module == "anthropic":
        from providers.adapters.anthropic_sdk import map_anthropic_error

        return map_anthropic_error(exc, provider=slug, secrets=secrets)
    return map_transport_error(exc, provider=slug, secrets=secrets)


def map_transport_error(
    exc: BaseException, *, provider: str | None = None, secrets: Iterable[str] = ()
) -> ProviderError:
    """Errors below the SDKs (httpx2, asyncio, a body that is not JSON), raised the same for both."""
    import httpx2

    name = f"upstream provider {provider!r}" if provider else "the upstream provider"
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, httpx2.PoolTimeout):
        return pool_full(provider)
    if isinstance(exc, builtins.TimeoutError | httpx2.TimeoutException):
        return TimeoutError(f"The {name} did not answer in time.", provider=provider)
    if isinstance(exc, httpx2.TransportError):
        detail = excerpt(scrub(str(exc), secrets)) or type(exc).__name__
        return ConnectionError(f"The connection to the {name} failed: {detail}", provider=provider)
    if isinstance(exc, ValueError):  # json.JSONDecodeError included
        return UpstreamUnavailableError(f"The {name} answered with a body that is not valid JSON.", provider=provider)
    detail = excerpt(scrub(str(exc), secrets))
    return UpstreamUnavailableError(
        f"The call to the {name} failed: {type(exc).__name__}{': ' + detail if detail else ''}", provider=provider
    )


def pool_full(provider: str | None) -> PoolFullError:
    """Our 503 for a request that found no free connection to the provider in its pool."""
    name = f"provider {provider!r}" if provider else "this provider"
    return PoolFullError(
        f"ModelDesk's connection pool for {name} is full: every connection is busy with other requests "
        "(not an upstream failure). Retry shortly, or raise the provider's max_connections.",
        provider=provider,
    )


def sdk_cause(exc: BaseException, provider: str | None = None) -> ProviderError | None:
    """Our error behind an SDK's timeout/connection error, if one caused it (a size limit, a full pool)."""
    import httpx2

    cause = exc.__cause__
    for _ in range(5):  # the SDKs wrap once; a short walk is enough
        if cause is None:
            return None
        if isinstance(cause, ProviderError):
            return cause
        if isinstance(cause, httpx2.PoolTimeout):
            return pool_full(provider)
        cause = cause.__cause__
    return None
