"""The request log in the admin: read-only (rows are facts), filterable, deletable by superusers only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from chat.admin_summary import RequestLogSummaryMixin
from chat.models import RequestLog


class ErrorFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("ok", "succeeded"), ("error", "failed")]

    def queryset(self, request: HttpRequest, queryset):
        if self.value() == "ok":
            return queryset.filter(error_category="")
        if self.value() == "error":
            return queryset.exclude(error_category="")
        return queryset


@admin.register(RequestLog)
class RequestLogAdmin(RequestLogSummaryMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "model_name",
        "provider_slug",
        "status_code",
        "error_category",
        "stream",
        "latency_ms_display",
        "ttft_ms_display",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "api_key",
        "user",
    )
    list_filter = (
        ErrorFilter,
        "provider_slug",
        "model_name",
        "status_code",
        "error_category",
        "stream",
        "source",
        "created_at",
    )
    search_fields = ("model_name", "provider_slug", "request_id", "error_message")
    date_hierarchy = "created_at"
    list_select_related = ("api_key", "user")
    show_full_result_count = False  # COUNT(*) on a large log is slow; the paginator still works
    list_per_page = 100

    @admin.display(description="latency (ms)", ordering="latency_ms")
    def latency_ms_display(self, obj: RequestLog) -> str:
        return f"{obj.latency_ms:.1f}"

    @admin.display(description="TTFT (ms)", ordering="ttft_ms")
    def ttft_ms_display(self, obj: RequestLog) -> str:
        return "" if obj.ttft_ms is None else f"{obj.ttft_ms:.1f}"

    def get_readonly_fields(self, request: HttpRequest, obj: RequestLog | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        # Pruning old rows is a superuser's decision; nobody edits history.
        return bool(request.user.is_superuser)
