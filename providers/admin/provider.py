"""Provider admin: models inline, write-only key, active filter, logo, the default at a glance.

Extension point for other apps (discovery adds "Test connection" and "Discover models"):
subclass `ProviderAdmin`, extend `actions` and `get_object_tools()`, add URLs with
`get_urls()`, then `admin.site.unregister(Provider)` and register the subclass.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from providers import services
from providers.admin.common import ObjectTool, ServiceErrorsMixin, adopt, default_marker_html, default_model_subtitle
from providers.fields import EncryptedSecret
from providers.forms import ProviderAdminForm, ProviderModelInlineForm, ProviderModelInlineFormSet
from providers.models import InactiveReason, Provider, ProviderModel


class ActiveFilter(admin.SimpleListFilter):
    """Active providers, or inactive ones by reason (SPEC §3); computed like the registry computes it."""

    title = "active"
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Active"), ("no", "Inactive (any reason)")] + [
            (reason.value, f"Inactive: {reason.label}") for reason in InactiveReason
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if value is None:
            return None
        # Activity depends on the environment and on decryption, so it is computed per row.
        reasons = {
            p.pk: p.inactive_reason
            for p in Provider.objects.only("pk", "slug", "kind", "base_url", "is_enabled", "api_key")
        }
        if value == "yes":
            wanted = [pk for pk, reason in reasons.items() if reason is None]
        elif value == "no":
            wanted = [pk for pk, reason in reasons.items() if reason is not None]
        else:
            wanted = [pk for pk, reason in reasons.items() if reason == value]
        return queryset.filter(pk__in=wanted)


class ProviderModelInline(admin.TabularInline):
    model = ProviderModel
    form = ProviderModelInlineForm  # saved by ProviderAdmin.save_formset, through the services
    formset = ProviderModelInlineFormSet
    fields = ["name", "model_id", "alias", "is_enabled", "sort_order", "default_marker"]
    readonly_fields = ["default_marker"]
    extra = 1
    show_change_link = True

    @admin.display(description="default")
    def default_marker(self, obj: ProviderModel) -> str:
        return default_marker_html(obj)


@admin.register(Provider)
class ProviderAdmin(ServiceErrorsMixin, admin.ModelAdmin):
    form = ProviderAdminForm
    # The model field stays out of the generated form (the declared write-only `api_key` input
    # replaces it), so a blank input is never written over the stored key.
    exclude = ["api_key"]
    inlines = [ProviderModelInline]
    list_display = [
        "logo",
        "name",
        "slug",
        "kind",
        "is_enabled",
        "status",
        "key_status",
        "model_counts",
        "default_model",
    ]
    list_display_links = ["name"]
    list_filter = ["kind", "is_enabled", ActiveFilter]
    search_fields = ["name", "slug", "base_url"]
    readonly_fields = ["logo_preview", "current_key", "status", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "is_enabled", "status"]}),
        (
            "Connection",
            {
                "fields": [
                    "base_url",
                    "current_key",
                    "api_key",
                    "clear_api_key",
                    "organization",
                    "api_version",
                    "timeout_seconds",
                    "max_retries",
                    "extra_headers",
                ]
            },
        ),
        (
            "Limits",
            {
                "fields": [
                    "stream_timeout_seconds",
                    "max_connections",
                    "max_response_bytes",
                    "max_error_body_bytes",
                    "max_sse_event_bytes",
                ],
                "classes": ["collapse"],
                "description": "What this provider's answers may take; empty: the server's UPSTREAM_* setting.",
            },
        ),
        ("Display", {"fields": ["image_url", "logo_preview"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]
    actions = ["enable_providers", "disable_providers"]
    change_form_template = "admin/providers/provider/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        default_of = ProviderModel.objects.filter(provider=OuterRef("pk"), is_default=True).values("model_id")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(
                model_count=Count("models", distinct=True),
                enabled_model_count=Count("models", filter=Q(models__is_enabled=True), distinct=True),
                default_model_id=Subquery(default_of),
            )
        )

    # --- columns and read-only fields -------------------------------------------------------------

    @admin.display(description="logo")
    def logo(self, obj: Provider) -> str:
        # Only http(s) URLs become an <img>; format_html escapes the attribute.
        if not obj.image_url.startswith(("https://", "http://")):
            return ""
        return format_html('<img src="{}" alt="" style="height:20px;max-width:48px;object-fit:contain">', obj.image_url)

    @admin.display(description="logo preview")
    def logo_preview(self, obj: Provider) -> str:
        if not obj.image_url.startswith(("https://", "http://")):
            return "—"
        return format_html(
            '<img src="{}" alt="logo" style="height:48px;max-width:160px;object-fit:contain">', obj.image_url
        )

    @admin.display(description="status")
    def status(self, obj: Provider) -> str:
        if obj.pk is None:
            return "—"
        reason = obj.inactive_reason
        if reason is None:
            return mark_safe('<span style="color:#217a3c">● active</span>')  # noqa: S308  (a constant)
        return format_html('<span style="color:#a33">○ inactive: {}</span>', reason)

    @admin.display(description="API key")
    def key_status(self, obj: Provider) -> str:
        """`has key · …last4`, the overriding environment variable, or `no key`: never the key itself."""
        parts = []
        if obj.slug and obj.key_source == "env":
            parts.append(f"from environment: {obj.env_key_name}")
        if obj.has_api_key:
            if isinstance(obj.api_key, EncryptedSecret) and not obj.api_key.can_decrypt:
                parts.append("stored key cannot be decrypted (wrong FIELD_ENCRYPTION_KEYS?): enter it again")
            else:
                hint = obj.api_key_hint
                parts.append(f"has key · …{hint}" if hint else "has key")
        return " — ".join(parts) or "no key"

    @admin.display(description="current key")
    def current_key(self, obj: Provider) -> str:
        return self.key_status(obj)

    @admin.display(description="models")
    def model_counts(self, obj: Provider) -> str:
        return f"{obj.enabled_model_count} enabled / {obj.model_count}"

    @admin.display(description="default", ordering="default_model_id")
    def default_model(self, obj: Provider) -> str:
        if not obj.default_model_id:
            return ""
        return format_html('<strong title="This provider holds the default model">★ {}</strong>', obj.default_model_id)

    # --- saving through the services --------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Provider, form: ProviderAdminForm, change: bool) -> None:
        data = form.service_data()
        saved = services.provider_update(provider=obj, **data) if change else services.provider_create(**data)
        adopt(obj, saved)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ProviderModel:
            super().save_formset(request, form, formset, change)
            return
        provider = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline in formset.deleted_forms:
            if inline.instance.pk:
                services.model_delete(model=inline.instance)
                formset.deleted_objects.append(inline.instance)
        for inline in formset.forms:
            if inline in formset.deleted_forms or not inline.has_changed():
                continue
            names = [name for name in inline.cleaned_data if name in services.MODEL_FIELDS]
            if inline.instance.pk:
                changed = [name for name in inline.changed_data if name in names]
                saved = services.model_update(model=inline.instance, **{n: inline.cleaned_data[n] for n in changed})
                formset.changed_objects.append((saved, changed))
            else:
                saved = services.model_create(provider=provider, **{n: inline.cleaned_data[n] for n in names})
                formset.new_objects.append(saved)
            adopt(inline.instance, saved)

    def delete_model(self, request: HttpRequest, obj: Provider) -> None:
        # The confirmation page has listed the models deleted with it.
        services.provider_delete(provider=obj, force=True)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:
            services.provider_delete(provider=provider, force=True)

    # --- actions and buttons ----------------------------------------------------------------------

    @admin.action(description="Enable selected providers")
    def enable_providers(self, request: HttpRequest, queryset: QuerySet) -> None:
        for provider in queryset:
            services.provider_update(provider=provider, is_enabled=True)
        self.message_user(request, f"{len(queryset)} provider(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable selected providers")
    def disable_providers(self, request: HttpRequest, queryset: QuerySet) -> None:
        held_default = queryset.filter(models__is_default=True).exists()
        for provider in queryset:
            services.provider_update(provider=provider, is_enabled=False)
        self.message_user(request, f"{len(queryset)} provider(s) disabled.", messages.SUCCESS)
        if held_default:
            self.message_user(
                request, "The default model's provider was disabled: there is no default model now.", messages.WARNING
            )

    def get_object_tools(self, request: HttpRequest, obj: Provider) -> list[ObjectTool]:
        """Buttons on a saved provider's page (POST forms). Subclasses extend this list."""
        return []

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Provider | None = None,
    ) -> HttpResponse:
        context["post_tools"] = self.get_object_tools(request, obj) if obj is not None and obj.pk else []
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {"subtitle": default_model_subtitle(), **(extra_context or {})})
