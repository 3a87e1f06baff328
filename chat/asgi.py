"""The gateway's fast path under ASGI: `/v1/chat/completions` served without the middleware stack.

Django's built-in middleware are "async-capable" through `MiddlewareMixin`,
which runs each `process_request` / `process_view` / `process_response` in
`sync_to_async(thread_sensitive=True)`: with this project's eight middleware
that is about a dozen hops to one shared thread per request, which is where
a bare Django async view loses most of its time under uvicorn. None of them
does anything this endpoint needs: it answers JSON or SSE to Bearer-key
clients, sets its own `nosniff` header, and checks the session and CSRF itself
for the playground (chat/auth.py). So this ASGI app sends that one path to a
Django handler built with no middleware, and everything else to the normal
one. `ALLOWED_HOSTS` is still enforced (the handler validates the Host header).

WSGI and the test client keep the full stack; the view works the same under both.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import get_script_prefix, reverse

from providers.adapters.registry import registered_kinds

PATH_NAME = "v1-chat-completions"


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler with an empty middleware chain (URL resolution and the view only)."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._checked_get_response)

    async def _checked_get_response(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()  # what CommonMiddleware would check: ALLOWED_HOSTS
        except DisallowedHost:
            return JsonResponse(
                {"error": {"message": "Invalid Host header.", "type": "invalid_request_error", "param": None,
                           "code": "invalid_host"}},
                status=400,
            )  # fmt: skip
        return await self._get_response_async(request)


def with_gateway_fast_path(application: Any) -> Any:
    """Wrap Django's ASGI application so the chat endpoint skips the middleware stack.

    The adapters (and so the vendor SDKs, seconds of imports) are loaded here, at
    server start, rather than by the first request.
    """
    registered_kinds()
    gateway = GatewayHandler()
    paths: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if not paths:
                # Resolved on first use (the URLconf is not importable when this module is);
                # reverse() returns the script prefix + the route, and the route is what we match.
                paths.append("/" + reverse(PATH_NAME)[len(get_script_prefix()) :])
            if scope["path"].removeprefix(scope.get("root_path", "")) == paths[0]:
                await gateway(scope, receive, send)
                return
        await application(scope, receive, send)

    return app
