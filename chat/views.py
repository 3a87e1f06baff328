"""`POST /v1/chat/completions`: the OpenAI-compatible chat endpoint (SPEC §6), async end to end.

The view only reads the request, calls `chat.service.handle()` and renders:
a `chat.completion` JSON, an SSE stream (frames written by `chat/sse.py`), or
OpenAI's error body. Under uvicorn it is served without Django's middleware
stack (see `chat/asgi.py`), so a warm request makes no thread hop and no query.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from chat import service, sse
from chat.auth import authenticate
from chat.body import MAX_BODY_BYTES, read_body
from chat.errors import ChatError, ErrorInfo, GatewayError, MethodNotAllowed, as_gateway_error

JSON_HEADERS = {"X-Content-Type-Options": "nosniff"}


def json_response(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers={**JSON_HEADERS, **(headers or {})},
    )


def error_response(info: ErrorInfo) -> HttpResponse:
    headers = dict(info.headers)
    if info.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="modeldesk"'
    if info.status_code == 405:
        headers["Allow"] = "POST"
    return json_response(info.body(), status=info.status_code, headers=headers)


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    started = time.perf_counter()
    if request.method != "POST":
        return error_response(as_gateway_error(MethodNotAllowed("Use POST for /v1/chat/completions.")))
    try:
        caller = await authenticate(request)
    except GatewayError as exc:
        # Not logged: an anonymous flood must not become a flood of writes.
        return error_response(as_gateway_error(exc))
    try:
        body = read_body(request.read(MAX_BODY_BYTES + 1), content_length=request.META.get("CONTENT_LENGTH"))
    except GatewayError as exc:
        return error_response(service.record_rejected(caller, exc, started=started).info)
    try:
        result = await service.handle(body, caller, started=started)
    except ChatError as exc:
        return error_response(exc.info)
    if isinstance(result, service.ChatStream):
        response = StreamingHttpResponse(_frames(result), content_type=sse.CONTENT_TYPE, headers=sse.HEADERS)
        return response
    return json_response(result)


async def _frames(stream: service.ChatStream) -> AsyncIterator[bytes]:
    """SSE frames of a stream; an upstream failure mid-stream is one error frame, then the end."""
    chunks = stream.chunks()
    try:
        async for chunk in chunks:
            yield sse.frame(chunk)
        yield sse.DONE
    except ChatError as exc:
        yield sse.frame(exc.info.body())
    finally:
        await chunks.aclose()
