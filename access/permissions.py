"""Who may do what on the API (SPEC §5).

Reads need the `read` scope (or nothing, on views marked `public_read`, when
`PUBLIC_REGISTRY` is on); writes need a staff session or the `admin` scope. A
staff session may do everything; `admin` implies every scope. With an API key,
only the key's scopes count, never its owner's staff flag: a `read` key of a
staff user cannot write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from access.selectors import KeyInfo

if TYPE_CHECKING:
    from rest_framework.views import APIView
else:
    APIView = Any


def required_scope(request: Request, view: APIView) -> str:
    return getattr(view, "required_scope", None) or ("read" if request.method in SAFE_METHODS else "admin")


def is_config_admin(request: Request) -> bool:
    """A staff session, or an API key with the `admin` scope (who sees inactive providers)."""
    if isinstance(request.auth, KeyInfo):
        return request.auth.has_scope("admin")
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


class ScopedAccess(BasePermission):
    message = "This API key does not have the scope this request needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        scope = required_scope(request, view)
        if isinstance(request.auth, KeyInfo):
            self.message = f"This API key does not have the `{scope}` scope this request needs."
            return request.auth.has_scope(scope)
        user = request.user
        if user and user.is_authenticated:
            self.message = "Configuration changes need a staff account or an API key with the `admin` scope."
            return bool(user.is_staff) or scope == "read"
        # Settings are read per request (never at import), so tests and operators can flip them.
        return scope == "read" and getattr(view, "public_read", False) and settings.PUBLIC_REGISTRY
