"""Helpers shared by the admin classes of the configuration store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.safestring import mark_safe

from providers.exceptions import ConfigError
from providers.models import ProviderModel


@dataclass(frozen=True)
class ObjectTool:
    """A button on a provider's page; it POSTs (with the CSRF token) to `url`."""

    label: str
    url: str


def adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved instance the row a service saved (pk, values, saved state)."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def default_model_subtitle() -> str:
    default = ProviderModel.objects.select_related("provider").filter(is_default=True).first()
    if default is None:
        return "No default model: requests that name no model fail. Choose one with “Set as default” on Models."
    return f"Default model: ★ {default.qualified_id}"


class ServiceErrorsMixin:
    """A service error that the form could not foresee (a concurrent change) is shown, not a 500.

    The admin's own transaction is rolled back when the error leaves it, so nothing is written.
    """

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)
        except (ValidationError, ConfigError) as exc:
            self.message_user(request, f"Nothing was saved: {error_text(exc)}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def default_marker_html(obj: ProviderModel) -> str:
    return mark_safe('<strong title="The default model">★ default</strong>') if obj.is_default else ""  # noqa: S308
