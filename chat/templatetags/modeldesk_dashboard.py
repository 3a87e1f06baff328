"""`{% modeldesk_dashboard %}`: the status block on the admin index (templates/admin/index.html)."""

from __future__ import annotations

from typing import Any

from django import template

from chat import reports

register = template.Library()


@register.inclusion_tag("admin/modeldesk/dashboard.html", takes_context=True)
def modeldesk_dashboard(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    return {"dashboard": reports.dashboard(), "request": request}
