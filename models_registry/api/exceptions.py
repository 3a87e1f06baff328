"""Error bodies of the registry and configuration API: DRF's usual shapes, never a 500 for bad input.

Services raise Django `ValidationError` (field → messages) and
`providers.exceptions.ConfigError` (with its own status, e.g. 409); both become
DRF responses whose keys name the offending field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from providers.exceptions import ConfigError


class ConfigAPIError(exceptions.APIException):
    """A `ConfigError` from a service, answered with its status code."""

    def __init__(self, error: ConfigError) -> None:
        self.status_code = error.status_code
        detail: Any = {error.field: [error.message]} if error.field else {"detail": error.message}
        super().__init__(detail=detail, code=type(error).__name__)


def validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as DRF's `{field: [messages]}` (non-field errors under DRF's key)."""
    if hasattr(exc, "error_dict"):
        return {
            (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, after translating service and parser errors into API exceptions."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=validation_detail(exc))
    elif isinstance(exc, ConfigError):
        exc = ConfigAPIError(exc)
    elif isinstance(exc, RecursionError):
        # json.loads of absurdly nested input: the parser only turns ValueError into a 400.
        exc = exceptions.ParseError("JSON parse error - nested too deeply.")
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["Cache-Control"] = "no-store"
    return response


class ConfigErrorsMixin:
    """Views of this API use `exception_handler` whatever the project-wide setting is."""

    def get_exception_handler(self) -> Any:
        return exception_handler
