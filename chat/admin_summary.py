"""The request log's per-model summary: an extra admin view on the RequestLog admin.

`RequestLogSummaryMixin` goes first in the bases of the RequestLog `ModelAdmin`
(chat/admin.py): it adds `<changelist>/summary/` (named
`admin:chat_requestlog_summary`) and a "Summary by model" button on the
changelist. The figures come from `chat.reports.request_log_summary`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from chat import reports


class RequestLogSummaryMixin:
    """Adds the summary view to a ModelAdmin of `chat.RequestLog`."""

    change_list_template = "admin/chat/requestlog/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        urls = super().get_urls()  # type: ignore[misc]
        summary = path(
            "summary/",
            self.admin_site.admin_view(self.summary_view),  # type: ignore[attr-defined]
            name=f"{self.opts.app_label}_{self.opts.model_name}_summary",  # type: ignore[attr-defined]
        )
        return [summary, *urls]

    def summary_view(self, request: HttpRequest) -> TemplateResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        period = request.GET.get("period", reports.DEFAULT_PERIOD)
        if period not in reports.PERIODS:
            period = reports.DEFAULT_PERIOD
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": self.opts,  # type: ignore[attr-defined]
            "title": "Request log: summary by model",
            "rows": reports.request_log_summary(period=period),
            "periods": [(key, label) for key, (label, _) in reports.PERIODS.items()],
            "period": period,
        }
        return TemplateResponse(request, "admin/chat/requestlog/summary.html", context)
