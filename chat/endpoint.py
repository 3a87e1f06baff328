"""`POST /v1/chat/completions` with an API key under ASGI: the gateway's hot path as a plain ASGI app.

The view (chat/views.py) and this endpoint take the same steps — method, key,
body, `chat.service.handle()`, JSON or SSE or OpenAI's error body — but here
without Django's request and response machinery. Under uvicorn, Django's
handler (URL resolution, an `ASGIRequest` with its body spooled to a temporary
file, the `HttpResponse` objects, a disconnect-listener task and a second task
for the view) cost more CPU per request than everything ModelDesk itself does
for a warm request (py-spy, bench/README.md). Requests without a Bearer key
(the playground's staff session) go to Django's full stack and that view,
which loads the session and checks CSRF; so do all requests under WSGI and the
test client. ADR 0007 has the measurements and the trade-off.

What Django's handler would do and this keeps: `ALLOWED_HOSTS` (the Host header
is validated as `HttpRequest.get_host()` does); `request_started` and
`request_finished` (sent on the event loop, where their receivers touch no
database connection, or, when the request needed a thread — a cold key or
configuration lookup — on that thread, so its connection is closed as Django
closes it); cancelling the work when the client disconnects (the request log
then records 499); and, for a bug, a logged traceback and a 500 in OpenAI's
shape that reveals nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.dispatch import Signal
from django.http.request import split_domain_port, validate_host

from access.authentication import bearer_token
from chat import service, sse
from chat.auth import key_caller
from chat.body import MAX_BODY_BYTES, read_body
from chat.errors import ChatError, ErrorInfo, GatewayError, MethodNotAllowed, PayloadTooLarge, as_gateway_error

ASGIApp = Any
_JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff")]
_SSE_HEADERS = [(b"content-type", sse.CONTENT_TYPE.encode())] + [
    (name.lower().encode(), value.encode()) for name, value in sse.HEADERS.items()
]
_INVALID_HOST = ErrorInfo(400, "invalid_request", "Invalid Host header.", "invalid_request_error", None, "invalid_host")
_DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


def api_key_of(scope: dict[str, Any]) -> str | None:
    """The Bearer key of a request, "" for a malformed one, None when it has none."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer_token(value)
    return None


class ChatEndpoint:
    """The ASGI app of `/v1/chat/completions`: Bearer requests here, the rest to `django_app`."""

    def __init__(self, django_app: ASGIApp) -> None:
        self.django_app = django_app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        key = api_key_of(scope)
        if key is None:
            await self.django_app(scope, receive, send)
            return
        # Still a ThreadSensitiveContext, as Django's handler opens: free until a cold lookup needs
        # a thread, and then that lookup's database work stays on one thread of this request.
        async with ThreadSensitiveContext() as context:
            context = SyncToAsync.thread_sensitive_context.get(context)
            await _send_signal(signals.request_started, scope=scope)
            try:
                await _Exchange(scope, receive, send, key).run()
            finally:
                if _used_a_thread(context):
                    await sync_to_async(signals.request_finished.send)(sender=ChatEndpoint)
                else:
                    await _send_signal(signals.request_finished)


class _Exchange:
    """One request and its response."""

    __slots__ = ("headers", "key", "receive", "response_started", "scope", "send", "started", "watcher")

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any, key: str) -> None:
        self.started = time.perf_counter()
        self.scope, self.receive, self.send, self.key = scope, receive, send, key
        self.headers = dict(scope["headers"])  # lower-case names; a repeated header keeps its last value
        self.response_started = False
        self.watcher: asyncio.Task | None = None

    async def run(self) -> None:
        try:
            await self._serve()
        except asyncio.CancelledError:
            watcher = self.watcher
            if watcher is None or not watcher.done() or watcher.cancelled():
                raise  # not the client's disconnect (server shutdown): let it through
            # The client went away (the watcher cancelled us): nobody is left to answer.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        except Exception as exc:  # noqa: BLE001  (a bug of ours: as_gateway_error logs it with its traceback)
            info = as_gateway_error(exc)
            if not self.response_started:
                await self._error(info)
        finally:
            if self.watcher is not None:
                self.watcher.cancel()

    async def _serve(self) -> None:
        if not _host_allowed(self.scope, self.headers):
            await self._error(_INVALID_HOST)
            return
        if self.scope["method"] != "POST":
            await self._error(as_gateway_error(MethodNotAllowed("Use POST for /v1/chat/completions.")))
            return
        try:
            caller = await key_caller(self.key)
        except GatewayError as exc:
            # Not logged: an anonymous flood must not become a flood of writes.
            await self._error(as_gateway_error(exc))
            return
        try:
            raw = await self._read_body()
            if raw is None:
                return  # the client went away while sending its body
            length = self.headers.get(b"content-length")
            body = read_body(raw, content_length=length.decode("latin-1") if length else None)
        except GatewayError as exc:
            await self._error(service.record_rejected(caller, exc, started=self.started).info)
            return
        self._watch_for_disconnect()
        try:
            result = await service.handle(body, caller, started=self.started)
        except ChatError as exc:
            await self._error(exc.info)
            return
        if isinstance(result, service.ChatStream):
            await self._stream(result)
        else:
            await self._respond(200, sse.json_bytes(result), _JSON_HEADERS)

    async def _read_body(self) -> bytes | None:
        """The whole body, or None on a disconnect; past MAX_BODY_BYTES the rest is not kept."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                return None
            part = message.get("body", b"")
            size += len(part)
            if size > MAX_BODY_BYTES:
                raise PayloadTooLarge(f"The request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.")
            parts.append(part)
            if not message.get("more_body"):
                return parts[0] if len(parts) == 1 else b"".join(parts)

    def _watch_for_disconnect(self) -> None:
        """From now on, a client disconnect cancels this request's work (and its upstream call)."""
        task = asyncio.current_task()
        receive = self.receive

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if task is not None:
                task.cancel()

        self.watcher = asyncio.get_running_loop().create_task(watch())

    async def _stream(self, stream: service.ChatStream) -> None:
        send = self.send
        await self._start(200, _SSE_HEADERS)
        frames = stream.frames()
        try:
            async for frame in frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        finally:
            await frames.aclose()
        self._stop_watching()
        await send({"type": "http.response.body", "body": b""})

    async def _error(self, info: ErrorInfo) -> None:
        headers = [(name.lower().encode(), value.encode("latin-1")) for name, value in info.response_headers().items()]
        await self._respond(info.status_code, sse.json_bytes(info.body()), _JSON_HEADERS + headers)

    async def _respond(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        await self._start(status, [*headers, (b"content-length", str(len(body)).encode())])
        self._stop_watching()
        await self.send({"type": "http.response.body", "body": body})

    async def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.response_started = True
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    def _stop_watching(self) -> None:
        # Before the last body message: once the response is complete, the server reports a
        # disconnect to `receive()`, which must not cancel what is left of this request.
        if self.watcher is not None:
            self.watcher.cancel()


def _host_allowed(scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    """`HttpRequest.get_host()`'s check of the Host (or X-Forwarded-Host) header against ALLOWED_HOSTS."""
    raw = headers.get(b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    if raw is None:
        raw = headers.get(b"host")
    if raw is not None:
        host = raw.decode("latin-1")
    else:  # no Host header: the server's name and port, as Django's ASGIRequest puts them in META
        name, port = scope.get("server") or ("unknown", "0")
        secure = scope.get("scheme") == "https"
        host = name if str(port) == ("443" if secure else "80") else f"{name}:{port}"
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = _DEBUG_HOSTS
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


# --- request signals -----------------------------------------------------------------------


def _used_a_thread(context: ThreadSensitiveContext) -> bool:
    """Whether a thread-sensitive call of this request started the context's own thread.

    asgiref keeps that executor in `SyncToAsync.context_to_thread_executor`; if a future
    asgiref stops doing so, assume a thread was used (Django's behaviour, only slower).
    """
    executors = getattr(SyncToAsync, "context_to_thread_executor", None)
    return executors is None or context in executors


async def _send_signal(signal: Signal, **named: Any) -> None:
    """Send a request signal on the event loop: its sync receivers touch no database connection here."""
    if signal.receivers and signal._live_receivers(ChatEndpoint)[1]:
        # Async receivers: Signal.send() would run them through async_to_sync, impossible on the loop.
        await signal.asend(sender=ChatEndpoint, **named)
    else:
        signal.send(sender=ChatEndpoint, **named)
