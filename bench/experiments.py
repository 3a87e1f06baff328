"""Candidate optimisations of the /v1 hot path, applied by patching *this process only*.

The product is never changed by these: `bench/profile_hotpath.py --experiment X`
and `bench/experiment_asgi.py` (uvicorn, BENCH_EXPERIMENT=x,y) apply them to measure
what a real change in the owning module would gain, before anyone makes it.

- `no-request-log`: rows are not written at all (the request log's whole cost).

Earlier experiments — the writer keeping its connection, skipping the SDK's params
transform, the handler without thread hops, one Redis pool per process — are now in
the product (bench/README.md, ADRs 0006 and 0007) and were removed from here.
"""

from __future__ import annotations

NAMES = ("no-request-log",)


def apply(names: list[str]) -> None:
    """Apply the named experiments; call after `django.setup()` and before importing the ASGI app."""
    unknown = set(names) - set(NAMES)
    if unknown:
        raise SystemExit(f"unknown experiment(s) {sorted(unknown)}; choose from {', '.join(NAMES)}")
    for name in names:
        globals()["_" + name.replace("-", "_")]()


def _no_request_log() -> None:
    from chat import request_log

    request_log.record = lambda values: None
    request_log.submit = lambda function, /, *a, **kw: None
