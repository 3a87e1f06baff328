"""Errors raised by the configuration services, rendered by the API and the commands."""

from __future__ import annotations


class ConfigError(Exception):
    """Base of the configuration errors; `status_code` is what the HTTP API answers."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidModel(ConfigError):
    """A model string that names no servable model (SPEC §4 wording)."""

    status_code = 404

    def __init__(self, message: str, *, candidates: list[str] | None = None) -> None:
        super().__init__(message, field="model")
        self.candidates = candidates or []


class AmbiguousModel(InvalidModel):
    status_code = 400


class Conflict(ConfigError):
    """The change conflicts with the current state (409)."""

    status_code = 409


class ProviderHasModels(Conflict):
    pass
