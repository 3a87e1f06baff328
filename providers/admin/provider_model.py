"""Model admin: enable/disable in the list, "Set as default" on exactly one, the default at a glance."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from providers import services
from providers.admin.common import ServiceErrorsMixin, adopt, default_marker_html, default_model_subtitle, error_text
from providers.admin.set_default import SetDefaultButtonMixin
from providers.exceptions import ConfigError
from providers.forms import ProviderModelAdminForm
from providers.models import ProviderModel


class DefaultFilter(admin.SimpleListFilter):
    title = "default"
    parameter_name = "default"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "The default model"), ("no", "Not the default")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        if self.value() in ("yes", "no"):
            return queryset.filter(is_default=self.value() == "yes")
        return None


@admin.register(ProviderModel)
class ProviderModelAdmin(SetDefaultButtonMixin, ServiceErrorsMixin, admin.ModelAdmin):
    form = ProviderModelAdminForm
    list_display = [
        "qualified_id",
        "display_name",
        "provider_link",
        "alias",
        "is_enabled",
        "default_marker",
        "status_badge",
        "capabilities_summary",
        "context_window",
    ]
    list_display_links = ["qualified_id"]
    list_editable = ["is_enabled"]
    list_filter = ["provider", "is_enabled", DefaultFilter, "status", "capabilities_source", "is_listed_upstream"]
    list_select_related = ["provider"]
    search_fields = ["model_id", "name", "alias", "provider__slug", "provider__name"]
    actions = ["set_as_default", "enable_models", "disable_models"]
    readonly_fields = ["qualified_id", "default_marker", "last_checked_at", "created_at", "updated_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "provider",
                    "qualified_id",
                    "name",
                    "model_id",
                    "alias",
                    "is_enabled",
                    "default_marker",
                    "sort_order",
                ]
            },
        ),
        (
            "Capabilities and limits",
            {"fields": ["capabilities", "capabilities_source", "context_window", "max_output_tokens"]},
        ),
        ("Prices (per million tokens)", {"fields": ["input_price_per_mtok", "output_price_per_mtok"]}),
        ("Status", {"fields": ["status", "status_detail", "is_listed_upstream", "last_checked_at"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: ProviderModel | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("provider")  # a model does not move between providers
        return fields

    @admin.display(description="model", ordering="provider__slug")
    def qualified_id(self, obj: ProviderModel) -> str:
        return obj.qualified_id if obj.provider_id else "—"

    @admin.display(description="name", ordering="name")
    def display_name(self, obj: ProviderModel) -> str:
        return obj.display_name

    @admin.display(description="provider", ordering="provider__name")
    def provider_link(self, obj: ProviderModel) -> str:
        url = reverse("admin:providers_provider_change", args=[obj.provider_id])
        return format_html('<a href="{}">{}</a>', url, obj.provider.name)

    @admin.display(description="default", ordering="-is_default")
    def default_marker(self, obj: ProviderModel) -> str:
        return default_marker_html(obj)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ProviderModel) -> str:
        colors = {"valid": "#217a3c", "invalid": "#a33"}
        label = obj.status if obj.is_listed_upstream else f"{obj.status}, not listed upstream"
        return format_html(
            '<span style="color:{}" title="{}">{}</span>', colors.get(obj.status, "#666"), obj.status_detail, label
        )

    @admin.display(description="capabilities")
    def capabilities_summary(self, obj: ProviderModel) -> str:
        caps = obj.capabilities if isinstance(obj.capabilities, dict) else {}
        parts = [
            name if value is True else f"{name}: {json.dumps(value)}"
            for name, value in sorted(caps.items())
            if value not in (False, None, "none")
        ]
        text = ", ".join(parts)
        return text if len(text) <= 80 else text[:79] + "…"

    # --- saving through the services --------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: ProviderModel, form: Any, change: bool) -> None:
        names = [name for name in form.cleaned_data if name in services.MODEL_FIELDS]
        if change:
            # Only what the operator changed (list_editable posts only `is_enabled`).
            data = {name: form.cleaned_data[name] for name in form.changed_data if name in names}
            saved = services.model_update(model=obj, **data)
        else:
            saved = services.model_create(
                provider=form.cleaned_data["provider"], **{n: form.cleaned_data[n] for n in names}
            )
        adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: ProviderModel) -> None:
        services.model_delete(model=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for model in queryset.select_related("provider"):
            services.model_delete(model=model)

    # --- actions ----------------------------------------------------------------------------------

    @admin.action(description="Set as default")
    def set_as_default(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.count()
        if count != 1:
            self.message_user(
                request,
                f"Select exactly one model to make it the default ({count} selected); nothing changed.",
                messages.ERROR,
            )
            return
        try:
            model = services.set_default_model(model=queryset.get())
        except (ValidationError, ConfigError) as exc:
            self.message_user(request, f"Not set as default: {error_text(exc)}", messages.ERROR)
            return
        self.message_user(request, f"Default model set: {model.qualified_id}.", messages.SUCCESS)
        reason = model.provider.inactive_reason
        if reason is not None:
            self.message_user(
                request,
                f"Provider {model.provider.slug} is inactive ({reason}): "
                "clients see no default model until it is active.",
                messages.WARNING,
            )

    @admin.action(description="Enable selected models")
    def enable_models(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = services.models_set_enabled(model_ids=list(queryset.values_list("pk", flat=True)), enabled=True)
        self.message_user(request, f"{changed} model(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable selected models")
    def disable_models(self, request: HttpRequest, queryset: QuerySet) -> None:
        held_default = queryset.filter(is_default=True).exists()
        changed = services.models_set_enabled(model_ids=list(queryset.values_list("pk", flat=True)), enabled=False)
        self.message_user(request, f"{changed} model(s) disabled.", messages.SUCCESS)
        if held_default:
            self.message_user(
                request, "The default model was disabled: there is no default model now.", messages.WARNING
            )

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {"subtitle": default_model_subtitle(), **(extra_context or {})})
