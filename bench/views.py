"""Bare reference views, served by the same uvicorn and middleware as the product.

- `bare_json`: a plain `JsonResponse` of a fixed payload (BENCH_BARE_PAYLOAD, a JSON
  file; the registry benchmark points it at a copy of the registry's own answer), the
  floor the registry's warm throughput is compared with.
- `bare_bytes`: the same payload serialized once, then sent as bytes: the floor of
  serving that many bytes (what a view that caches its rendered answer can reach).
- `bare_tiny`: `JsonResponse({"ok": true})`, the framework's floor.
- `passthrough`: an async view that posts the body to BENCH_UPSTREAM_URL and returns
  the answer, with no auth, resolution or logging: the floor of any Django gateway.
"""

from __future__ import annotations

import json
import os
from functools import cache

import httpx2
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


@cache
def _payload() -> object:
    path = os.environ.get("BENCH_BARE_PAYLOAD")
    if not path:
        return {"ok": True}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def bare_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_payload(), safe=False)


@cache
def _payload_bytes() -> bytes:
    return json.dumps(_payload()).encode()


def bare_bytes(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_payload_bytes(), content_type="application/json")


def bare_tiny(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


_client: httpx2.AsyncClient | None = None


@csrf_exempt
async def passthrough(request: HttpRequest) -> HttpResponse:
    global _client  # one pooled client per worker process, as a real gateway keeps
    if _client is None:
        _client = httpx2.AsyncClient(timeout=30)
    upstream = await _client.post(
        os.environ["BENCH_UPSTREAM_URL"], content=request.body, headers={"content-type": "application/json"}
    )
    return HttpResponse(upstream.content, status=upstream.status_code, content_type="application/json")
