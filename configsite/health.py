"""Liveness and readiness probes (SPEC §5). Async, so they cost no thread hop under ASGI.

`/healthz` touches nothing (no database, no cache): it answers as long as the event
loop runs, which a hung cache can no longer stop (configsite/cache_guard.py).
`/readyz` reports the cache down at once while the process knows it is down.
"""

from __future__ import annotations

import uuid

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from configsite.cache_guard import CacheUnavailable, guarded, outage


async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    guarded(cache.set, key, "1", timeout=5)
    if guarded(cache.get, key) != "1":
        raise RuntimeError("cache did not return what was written")
    guarded(cache.delete, key)


async def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("cache", _check_cache)):
        try:
            await sync_to_async(check)()
            checks[name] = "ok"
        except CacheUnavailable:
            checks[name] = f"error: unavailable ({outage.describe()})"
        except Exception as exc:  # noqa: BLE001  (any failure means not ready; reported, never raised)
            checks[name] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
