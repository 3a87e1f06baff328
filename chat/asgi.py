"""The ASGI application's front: `/v1/chat/completions` goes to its own endpoint, and a body limit for all.

Requests to the chat endpoint with an API key are served by `chat.endpoint`, a
plain ASGI app (no middleware, no Django request/response objects); the rest of
that path (the playground's staff session) and every other path go to Django's
normal ASGI handler with its full middleware stack. See ADR 0007.

Every HTTP path gets the request body ceiling (MAX_BODY_BYTES) before Django or
the endpoint reads it.
"""

from __future__ import annotations

import json
from typing import Any

from django.urls import get_script_prefix, reverse

from chat.body import MAX_BODY_BYTES
from chat.endpoint import ChatEndpoint
from chat.errors import PayloadTooLarge, as_gateway_error
from providers.adapters.registry import registered_kinds

PATH_NAME = "v1-chat-completions"


def with_gateway_fast_path(application: Any) -> Any:
    """Wrap Django's ASGI application so API-key requests to the chat endpoint skip it.

    The adapters (and so the vendor SDKs, seconds of imports) are loaded here, at
    server start, rather than by the first request.
    """
    registered_kinds()

    async def django_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await application(scope, _capped(receive), send)

    endpoint = ChatEndpoint(django_app)
    paths: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await application(scope, receive, send)
            return
        if _declared_length(scope) > MAX_BODY_BYTES:
            await _too_large(send)
            return
        if not paths:
            # Resolved on first use (the URLconf is not importable when this module is);
            # reverse() returns the script prefix + the route, and the route is what we match.
            paths.append("/" + reverse(PATH_NAME)[len(get_script_prefix()) :])
        if scope["path"].removeprefix(scope.get("root_path", "")) == paths[0]:
            await endpoint(scope, receive, send)
        else:
            # Django would spool a body of any size: cut it at the ceiling.
            await django_app(scope, receive, send)

    return app


# --- the body limit, before Django reads the body --------------------------------------------
# Django's ASGI handler spools the whole body to a temporary file before any view runs (even
# before the key is checked), so without these an anonymous client could upload gigabytes, or
# declare them and hold the request open. A declared size above the limit is refused at once;
# a chunked body is cut after the limit, which the view then refuses (413) as too large.


def _declared_length(scope: dict[str, Any]) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the view answers the 400 for a malformed header
    return 0


async def _too_large(send: Any) -> None:
    info = as_gateway_error(PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB."))
    body = json.dumps(info.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
    ]
    await send({"type": "http.response.start", "status": info.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _capped(receive: Any) -> Any:
    """`receive` that ends the body once it passes MAX_BODY_BYTES (the rest is dropped, never stored)."""
    seen = 0

    async def capped_receive() -> dict[str, Any]:
        nonlocal seen
        if seen > MAX_BODY_BYTES:
            # The body was cut: Django now only listens for the disconnect; what else arrives is dropped.
            while (message := await receive())["type"] == "http.request":
                pass
            return message
        message = await receive()
        if message["type"] == "http.request" and message.get("more_body"):
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                return {**message, "more_body": False}
        return message

    return capped_receive
