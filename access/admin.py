"""Admin for gateway API keys: create one (the full key is shown once), list, edit scopes/expiry, revoke.

Thin on purpose: the form validates input with `access.services` helpers and the
writes go through `api_key_create` / `api_key_update` / `api_key_revoke`. The
stored hash is never displayed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from access import services
from access.keys import display_prefix
from access.models import ApiKey, Scope

#: Where `save_form` leaves the raw key for `response_add` (this request only, never stored).
_RAW_KEY_ATTR = "_modeldesk_new_api_key"


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="`admin` implies every scope.",
    )

    class Meta:
        model = ApiKey
        fields = ["name", "user", "scopes", "expires_at"]

    def clean_scopes(self) -> list[str]:
        try:
            return services.validate_scopes(self.cleaned_data.get("scopes") or [])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["scopes"]) from exc

    def clean_expires_at(self) -> Any:
        value = self.cleaned_data.get("expires_at")
        if "expires_at" not in self.changed_data:
            return value
        try:
            return services.validate_expiry(value)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["expires_at"]) from exc

    def clean_user(self) -> Any:
        user = self.cleaned_data.get("user")
        if user is not None and not user.is_active:
            raise ValidationError(f"User {user} is inactive.")
        return user


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "active"), ("expired", "expired"), ("revoked", "revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now, revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "key_prefix",
        "user",
        "scope_list",
        "expires_at",
        "is_revoked",
        "last_used_at",
        "created_at",
    ]
    list_filter = [KeyStatusFilter, "created_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    actions = ["revoke_keys"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["name", "user", "scopes", "expires_at"]
        return ["name", "key_prefix", "user", "scopes", "expires_at", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        # The owner and the secret of an existing key never change: create a new key instead.
        return [*self.readonly_fields, "user"] if obj is not None else []

    @admin.display(description="key", ordering="prefix")
    def key_prefix(self, obj: ApiKey) -> str:
        return display_prefix(obj.prefix) if obj.prefix else "—"

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or [])

    @admin.display(description="revoked", boolean=True, ordering="revoked_at")
    def is_revoked(self, obj: ApiKey) -> bool:
        return obj.revoked_at is not None

    # Creation goes through the service, which generates the secret and returns it once.
    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> ApiKey:
        if change:
            return super().save_form(request, form, change)
        data = form.cleaned_data
        key, raw = services.api_key_create(
            name=data["name"], user=data["user"], scopes=data["scopes"], expires_at=data.get("expires_at")
        )
        setattr(request, _RAW_KEY_ATTR, raw)
        return key

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if not change:
            return  # saved by api_key_create in save_form
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in services.UPDATABLE_FIELDS}
        if changes:
            services.api_key_update(api_key=obj, **changes)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(request, _RAW_KEY_ATTR, None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": "API key created",
            "opts": opts,
            "api_key": obj,
            "raw_key": raw,
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
        }
        response = TemplateResponse(request, "admin/access/apikey/key_created.html", context)
        # The page holds the only copy of the key: no browser or proxy may keep it.
        response["Cache-Control"] = "no-store, private"
        return response

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=key)
            count += 1
        self.message_user(request, ngettext("%d key revoked.", "%d keys revoked.", count) % count, messages.SUCCESS)
