"""Count the database queries of GET /api/model-registry, cold (empty cache) and warm.

Run with the registry benchmark's environment; prints one JSON document:
{"status": 200, "cold": N, "warm": N, "config_cold": N, "bytes": N, "etag": "...", "not_modified_status": 304}.
In-process through Django's test client, so the count is exact (CaptureQueriesContext).
"""

from __future__ import annotations

import json
import os
import sys

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from providers import snapshot

    key = os.environ["BENCH_KEY"]
    path = os.environ.get("BENCH_REGISTRY_PATH", "/api/model-registry")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    cache.clear()
    snapshot.store.forget()  # a fresh process: nothing memoized
    # Read each capture at once: the next request's `request_started` resets the query log.
    with CaptureQueriesContext(connection) as ctx:
        first = client.get(path)
    cold = [q["sql"][:160] for q in ctx.captured_queries]
    with CaptureQueriesContext(connection) as ctx:
        second = client.get(path)
    warm = [q["sql"][:160] for q in ctx.captured_queries]
    # Configuration cold, key lookup warm: the registry's own cold cost.
    snapshot.invalidate()
    snapshot.store.forget()
    with CaptureQueriesContext(connection) as ctx:
        client.get(path)
    config_cold = [q["sql"][:160] for q in ctx.captured_queries]
    etag = second.headers.get("ETag")
    third = client.get(path, HTTP_IF_NONE_MATCH=etag) if etag else None
    out = {
        "status": first.status_code,
        "cold": len(cold),
        "warm": len(warm),
        "config_cold": len(config_cold),
        "cold_sql": cold,
        "warm_sql": warm,
        "config_cold_sql": config_cold,
        "bytes": len(first.content),
        "etag": etag,
        "not_modified_status": third.status_code if third is not None else None,
    }
    if first.status_code == 200 and os.environ.get("BENCH_PAYLOAD_OUT"):
        with open(os.environ["BENCH_PAYLOAD_OUT"], "wb") as fh:
            fh.write(first.content)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
