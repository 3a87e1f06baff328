"""`POST /v1/chat/completions`: the OpenAI-compatible chat endpoint (SPEC §6), async end to end.

The view only reads the request, calls `chat.service.handle()` and renders:
a `chat.completion` JSON, an SSE stream (frames written by `chat/sse.py`), or
OpenAI's error body. Under uvicorn, requests with an API key are served by
`chat/endpoint.py` instead (the same steps as plain ASGI, without Django's
request/response machinery); this view serves the rest (staff sessions of the
playground), and everything under WSGI and the test client.
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from chat import service, sse
from chat.auth import authenticate
from chat.body import MAX_BODY_BYTES, read_body
from chat.errors import ChatError, ErrorInfo, GatewayError, MethodNotAllowed, as_gateway_error

JSON_HEADERS = {"X-Content-Type-Options": "nosniff"}


def json_response(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    headers = {**JSON_HEADERS, **(headers or {})}
    return HttpResponse(sse.json_bytes(data), status=status, content_type="application/json", headers=headers)


def error_response(info: ErrorInfo) -> HttpResponse:
    return json_response(info.body(), status=info.status_code, headers=info.response_headers())


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
        return StreamingHttpResponse(result.frames(), content_type=sse.CONTENT_TYPE, headers=sse.HEADERS)
    return json_response(result)
