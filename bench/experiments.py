"""Candidate optimisations of the /v1 hot path, applied by patching *this process only*.

The product is never changed by these: `bench/profile_hotpath.py --experiment X`
and `bench/experiment_asgi.py` (uvicorn, BENCH_EXPERIMENT=x,y) apply them to measure
what a real change in the owning module would gain, before anyone makes it.

- `no-request-log`: rows are not written at all (the request log's whole cost).
- `keep-log-connection`: the writer thread keeps its database connection instead of
  `close_old_connections()` before every row (SQLite's CONN_MAX_AGE=0 reopens the file,
  and the last connection to close a WAL database checkpoints it).
- `skip-transform`: the OpenAI adapter's params skip the SDK's recursive TypedDict
  transform (they are plain JSON already), as `client.post("/chat/completions", body=...)` would.
- `inline-handler`: the gateway's ASGI handler without Django's per-request thread hops
  (a fresh `ThreadSensitiveContext` executor per request, `request_started` and
  `response.close()` through `sync_to_async`); the event-loop thread holds no database
  connection, so running those receivers inline is safe on this path.
- `shared-redis-pool`: one Redis connection pool per process. Django's `caches` is a
  context-local handler, so under ASGI every request (task) builds a new `RedisCache`,
  hence a new pool and a new TCP connection with its handshake; this shares the pool
  (what an `OPTIONS["pool_class"]` whose `from_url` memoizes per URL would do).
"""

from __future__ import annotations

NAMES = ("no-request-log", "keep-log-connection", "skip-transform", "inline-handler", "shared-redis-pool")


def apply(names: list[str]) -> None:
    """Apply the named experiments; call after `django.setup()` and before importing the ASGI app."""
    unknown = set(names) - set(NAMES)
    if unknown:
        raise SystemExit(f"unknown experiment(s) {sorted(unknown)}; choose from {', '.join(NAMES)}")
    for name in names:
        globals()["_" + name.replace("-", "_")]()


def _no_request_log() -> None:
    from chat import request_log

    request_log.submit = lambda function, /, *a, **kw: None


def _keep_log_connection() -> None:
    from chat import request_log

    def run(function, args, kwargs):
        try:
            function(*args, **kwargs)
        except Exception:
            request_log.logger.exception("Writing the request log failed")

    request_log._run = run


def _skip_transform() -> None:
    import openai.resources.chat.completions.completions as sdk_completions
    from openai._utils import is_given

    async def identity(data, expected_type, **_kw):
        return {k: v for k, v in data.items() if is_given(v)}

    sdk_completions.async_maybe_transform = identity


def _inline_handler() -> None:
    import django.core.handlers.asgi as dj_asgi
    from django.core import signals

    from chat import asgi as chat_asgi

    async def call(self, scope, receive, send):
        await self.handle(scope, receive, send)

    def inline(function, *a, **kw):
        async def run(*args, **kwargs):
            return function(*args, **kwargs)

        return run

    async def started(sender, **named):
        return signals.request_started.send(sender=sender, **named)

    chat_asgi.GatewayHandler.__call__ = call
    dj_asgi.sync_to_async = inline  # only the module-level name Django's ASGI handler uses
    signals.request_started.asend = started


def _shared_redis_pool() -> None:
    from django.core.cache.backends import redis as dj_redis

    pools: dict = {}
    original = dj_redis.RedisCacheClient._get_connection_pool

    def shared(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], tuple(sorted((k, repr(v)) for k, v in self._pool_options.items())))
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = original(self, write)
        return pool

    dj_redis.RedisCacheClient._get_connection_pool = shared
