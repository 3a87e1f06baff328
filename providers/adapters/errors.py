"""Our own error categories for upstream failures (SPEC §6); never subclasses of a vendor's.

Each SDK's exceptions are mapped once, at the adapter boundary (see the
`map_*_error` function in each adapter module), to one of these classes. The
`/v1` error handler renders them as OpenAI's `{"error": {...}}` body.
"""

from __future__ import annotations


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
