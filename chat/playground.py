"""The chat playground page (`/chat/`): a browser client of the same `/v1/chat/completions` API.

The page itself carries no data: its script reads the model registry and the
presets from the API and streams answers over the gateway's SSE endpoint, so
the playground exercises exactly what every other client uses.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import get_script_prefix
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET


@require_GET
@staff_member_required
@ensure_csrf_cookie
def playground(request: HttpRequest) -> HttpResponse:
    """The playground shell; staff only for now (redirects others to the admin login)."""
    prefix = get_script_prefix()
    endpoints = {
        "registry": f"{prefix}api/model-registry",
        "presets": f"{prefix}api/config/presets/",
        "completions": f"{prefix}v1/chat/completions",
    }
    return render(request, "chat/playground.html", {"endpoints": endpoints})
