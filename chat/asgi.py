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

The handler also skips Django's two per-request thread hops (`request_started`
and `response.close()` through `sync_to_async`): each one made asgiref start a
new thread for the request's `ThreadSensitiveContext`. Their receivers
(`reset_queries`, `close_old_connections`, closing the caches) run on the event
loop instead, where they touch no database connection (Django forbids queries
on that thread). When the request did use a thread — a cold lookup — the end of
the request runs there as Django does, so that thread's connection is closed.
See docs/adr/0006-gateway-hot-path.md.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import DisallowedHost, RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.asgi import get_script_prefix as scope_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import get_script_prefix, reverse, set_script_prefix

from chat.body import MAX_BODY_BYTES
from chat.errors import PayloadTooLarge, as_gateway_error
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

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Still a ThreadSensitiveContext: it costs nothing until a thread-sensitive call is made,
        # and then keeps a cold request's database work on one thread of its own, as Django does.
        async with ThreadSensitiveContext() as context:
            # The context in force (an enclosing one, if this handler is ever nested in another).
            await self._handle(scope, receive, send, SyncToAsync.thread_sensitive_context.get(context))

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any, context: ThreadSensitiveContext) -> None:
        """`ASGIHandler.handle` (Django 5.2) with the request signals sent without a thread hop."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(scope_script_prefix(scope))
        await _send(signals.request_started, self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await _close(error_response, context)
            return

        async def process_request(request: HttpRequest, send: Any) -> HttpResponse:
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client disconnected during send_response
            return response

        # As Django does: watch for a disconnect while the view runs, and cancel the view if so.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            if _used_a_thread(context):
                await signals.request_finished.asend(sender=self.__class__)
            else:
                await _send(signals.request_finished, self.__class__)
        else:
            await _close(response, context)
        body_file.close()


def _used_a_thread(context: ThreadSensitiveContext) -> bool:
    """Whether a thread-sensitive call of this request started the context's own thread.

    asgiref keeps that executor in `SyncToAsync.context_to_thread_executor`; if a future
    asgiref stops doing so, assume a thread was used (Django's behaviour, only slower).
    """
    executors = getattr(SyncToAsync, "context_to_thread_executor", None)
    return executors is None or context in executors


def _has_async_receivers(signal: Signal, sender: Any) -> bool:
    # Signal.send() would run async receivers through async_to_sync, impossible on the loop thread.
    return bool(signal.receivers) and bool(signal._live_receivers(sender)[1])


async def _send(signal: Signal, sender: Any, **named: Any) -> None:
    """Send a request signal on the event loop: its sync receivers touch no database connection here."""
    if _has_async_receivers(signal, sender):
        await signal.asend(sender=sender, **named)
    else:
        signal.send(sender=sender, **named)


async def _close(response: HttpResponse, context: ThreadSensitiveContext) -> None:
    """`response.close()` (which sends `request_finished`) inline, or on the request's thread if it has one."""
    if _used_a_thread(context) or _has_async_receivers(signals.request_finished, response._handler_class):
        await sync_to_async(response.close)()
    else:
        response.close()


def with_gateway_fast_path(application: Any) -> Any:
    """Wrap Django's ASGI application so the chat endpoint skips the middleware stack.

    Every HTTP path gets the request body ceiling (MAX_BODY_BYTES) before Django reads it.

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
                if _declared_length(scope) > MAX_BODY_BYTES:
                    await _too_large(send)
                    return
                await gateway(scope, _capped(receive), send)
                return
            # Every other path (admin, /api) gets the same ceiling: Django would spool any size.
            if _declared_length(scope) > MAX_BODY_BYTES:
                await _too_large(send)
                return
            await application(scope, _capped(receive), send)
            return
        await application(scope, receive, send)

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
