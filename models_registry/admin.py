"""Admin actions of the model registry on providers: "Test connection" and "Discover models".

`providers` imports nothing of this app, so the provider admin is extended here by
subclassing it and registering the subclass in its place (this app is installed
after `providers`, so its admin module is loaded later). The same subclassing
fills capabilities from the catalog for models added in the admin without any.
Results are shown as admin messages; the work is done by the services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from models_registry import services
from models_registry.discovery import DiscoveryResult, discover_models
from providers.admin import ObjectTool, ProviderAdmin, ProviderModelAdmin
from providers.models import Provider, ProviderModel


def _connection_message(provider: Provider, outcome: dict[str, Any]) -> tuple[str, int]:
    if outcome["ok"]:
        return f"{provider.name}: connection OK ({outcome['latency_ms']:.0f} ms).", messages.SUCCESS
    return f"{provider.name}: connection failed: {outcome['error']}", messages.ERROR


#: Rejected entries named in an admin message; the rest are counted (the API and command list them all).
SHOWN_REJECTED = 10


def _discovery_message(provider: Provider, result: DiscoveryResult) -> tuple[str, int]:
    text = f"{provider.name}: {result.summary().split(': ', 1)[1]}"
    if result.rejected:
        shown = [f"{entry['model_id'] or '(no id)'}: {entry['reason']}" for entry in result.rejected[:SHOWN_REJECTED]]
        more = len(result.rejected) - len(shown)
        text += " Rejected: " + "; ".join(shown) + (f"; and {more} more." if more else ".")
    if result.warnings:
        text += " Warning: " + "; ".join(result.warnings)
    if result.errors:
        return text, messages.ERROR
    return text, messages.WARNING if result.warnings or result.rejected else messages.SUCCESS


class RegistryProviderAdmin(ProviderAdmin):
    """The provider admin with connection tests and model discovery (actions and page buttons)."""

    actions = [*ProviderAdmin.actions, "test_connection", "discover_provider_models"]

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:
            self.message_user(request, *_connection_message(provider, services.test_connection(provider)))

    @admin.action(description="Discover models")
    def discover_provider_models(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:
            self.message_user(request, *_discovery_message(provider, discover_models(provider)))

    # --- buttons on a provider's page -------------------------------------------------------------

    def get_urls(self) -> list:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name=f"{prefix}_test_connection",
            ),
            path(
                "<path:object_id>/discover-models/",
                self.admin_site.admin_view(self.discover_view),
                name=f"{prefix}_discover_models",
            ),
        ]
        return own + super().get_urls()

    def get_object_tools(self, request: HttpRequest, obj: Provider) -> list[ObjectTool]:
        tools = super().get_object_tools(request, obj)
        if self.has_change_permission(request, obj):
            prefix = f"admin:{self.opts.app_label}_{self.opts.model_name}"
            tools += [
                ObjectTool("Test connection", reverse(f"{prefix}_test_connection", args=[obj.pk])),
                ObjectTool("Discover models", reverse(f"{prefix}_discover_models", args=[obj.pk])),
            ]
        return tools

    def _tool_view(self, request: HttpRequest, object_id: str, run: Any) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        provider = get_object_or_404(Provider, pk=object_id) if str(object_id).isdigit() else None
        if provider is None or not self.has_change_permission(request, provider):
            return HttpResponseRedirect(reverse("admin:index"))
        self.message_user(request, *run(provider))
        return HttpResponseRedirect(reverse("admin:providers_provider_change", args=[provider.pk]))

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._tool_view(request, object_id, lambda p: _connection_message(p, services.test_connection(p)))

    def discover_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._tool_view(request, object_id, lambda p: _discovery_message(p, discover_models(p)))

    # --- catalog capabilities for models added inline ---------------------------------------------

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        if formset.model is ProviderModel:
            for model in formset.new_objects:
                services.model_fill_capabilities(model=model)


class RegistryProviderModelAdmin(ProviderModelAdmin):
    """The model admin, filling capabilities the operator left empty from the catalog."""

    def save_model(self, request: HttpRequest, obj: ProviderModel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        declared = {name for name in form.changed_data if form.cleaned_data.get(name) not in (None, "", {}, [])}
        services.model_fill_capabilities(model=obj, keep=declared)


for _model, _admin in ((Provider, RegistryProviderAdmin), (ProviderModel, RegistryProviderModelAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
