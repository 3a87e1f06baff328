"""Cache calls that cannot freeze the event loop, and what the process does while the cache is down.

The hot path reads the cache on every request (the API key's entry and the
configuration version, one MGET). A cache that hangs must cost those requests a
short, bounded wait once, not block the event loop that also serves `/healthz`
and every other request. So:

- `aget_many()` never blocks the loop: on Redis it uses redis-py's asyncio client
  (one per event loop, same server, the short `CACHE_TIMEOUT_SECONDS` socket
  timeouts, no retry); the local-memory cache answers inline; any other backend
  is called in a thread.
- One breaker per process (`outage`): the first failed call marks the cache
  down and logs ONE line; from then on calls fail at once with `CacheUnavailable`
  (no socket, no wait, no traceback) while a probe (at most one every
  `PROBE_EVERY_SECONDS`, in the background on the loop or by the next sync
  caller) checks whether it is back, which is logged once too.
- Callers fall back to what the process already holds (the last configuration
  snapshot, the API keys it has seen) for `CACHE_OUTAGE_GRACE_SECONDS`; past that,
  or for what they do not hold, they answer 503 with `Retry-After`.

Sync callers (Django views run in threads, commands, the request-log writer) go
through `guarded()`: the same breaker, and the same short timeouts (the Redis
pool's `socket_timeout`, configsite/settings.py). See docs/adr/0008-cache-outages.md.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: While the cache is down, how often it is tried again.
PROBE_EVERY_SECONDS = 1.0
#: What a 503 tells the client (`Retry-After`).
RETRY_AFTER_SECONDS = 5


class CacheUnavailable(Exception):
    """The cache did not answer (or is known to be down): use what the process holds, or answer 503."""

    retry_after = RETRY_AFTER_SECONDS


class Outage:
    """The process's view of the cache: up, or down since when (one log line per transition)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._next_probe = 0.0
        self._probing = False
        self._on_recovery: list[Callable[[], None]] = []

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def within_grace(self) -> bool:
        """Whether what the process holds may still be served instead of the cache's answer."""
        down_since = self.down_since
        return down_since is None or time.monotonic() - down_since <= settings.CACHE_OUTAGE_GRACE_SECONDS

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._probing = False
            self._next_probe = time.monotonic() + PROBE_EVERY_SECONDS
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
        logger.error(
            "Cache unreachable (%s: %s): serving from the last configuration snapshot and the API keys this "
            "process knows for up to %s s, then 503.",
            type(exc).__name__,
            exc,
            settings.CACHE_OUTAGE_GRACE_SECONDS,
        )

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            down_since, self.down_since, self._probing = self.down_since, None, False
            callbacks = list(self._on_recovery)
        if down_since is None:
            return
        logger.warning("Cache reachable again after %.1f s.", time.monotonic() - down_since)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001  (a failed replay is retried at the next recovery)
                logger.warning("A recovery action failed.", exc_info=True)

    def claim_probe(self) -> bool:
        """While down: True for the one caller that may try the cache now (then at most once a second)."""
        with self._lock:
            if self.down_since is None:
                return True
            now = time.monotonic()
            if self._probing or now < self._next_probe:
                return False
            self._probing = True
            self._next_probe = now + PROBE_EVERY_SECONDS
            return True

    def on_recovery(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the cache answers again (e.g. replay a version bump that failed)."""
        with self._lock:
            if callback not in self._on_recovery:
                self._on_recovery.append(callback)

    def forget_recovery(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._on_recovery:
                self._on_recovery.remove(callback)

    def describe(self) -> str:
        down_since = self.down_since
        return "ok" if down_since is None else f"down for {time.monotonic() - down_since:.0f} s"


outage = Outage()


def _is_cache_error(exc: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, (RedisError, OSError, asyncio.TimeoutError))


def guarded(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a sync cache operation through the breaker: `CacheUnavailable` at once while the cache is down."""
    if not outage.claim_probe():
        raise CacheUnavailable
    try:
        result = function(*args, **kwargs)
    except Exception as exc:
        if not _is_cache_error(exc):
            raise
        outage.failed(exc)
        raise CacheUnavailable from exc
    outage.succeeded()
    return result


# --- reads that never block the event loop ----------------------------------------------------

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def _async_client() -> Any:
    """redis-py's asyncio client for the running loop (its connections belong to that loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        timeout = settings.CACHE_TIMEOUT_SECONDS
        client = redis.asyncio.Redis.from_url(
            _backend()._servers[0],
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        _async_clients[loop] = client
    return client


async def _redis_get_many(keys: list[str]) -> dict[str, Any]:
    backend = cache._connections[cache._alias]
    made = [backend.make_and_validate_key(key) for key in keys]
    values = await _async_client().mget(made)
    loads = backend._cache._serializer.loads
    return {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}


async def _probe() -> None:
    try:
        await _async_client().ping()
    except Exception as exc:  # noqa: BLE001  (any failure: still down)
        outage.failed(exc)
    else:
        await sync_to_async(outage.succeeded, thread_sensitive=False)()


def _backend() -> Any:
    return cache._connections[cache._alias]


async def aget_many(keys: Iterable[str]) -> dict[str, Any]:
    """`cache.get_many(keys)` without blocking the event loop; `CacheUnavailable` when the cache is down.

    While the cache is down this raises at once and, at most once a second, starts a
    background probe (a PING) that marks it up again when it answers.
    """
    keys = list(keys)
    backend = _backend()
    if isinstance(backend, LocMemCache):
        return backend.get_many(keys)  # in-process memory: nothing to wait for
    from configsite.redis_pool import RedisCache

    is_redis = isinstance(backend, RedisCache)
    if outage.is_down:
        if not outage.claim_probe():
            raise CacheUnavailable
        if is_redis:  # the probe runs beside this request, which does not wait for it
            asyncio.get_running_loop().create_task(_probe())
            raise CacheUnavailable
    try:
        if is_redis:
            return await _redis_get_many(keys)
        return await sync_to_async(backend.get_many, thread_sensitive=False)(keys)
    except Exception as exc:
        if not _is_cache_error(exc):
            raise
        outage.failed(exc)
        raise CacheUnavailable from exc


async def aping() -> None:
    """Check the cache answers (for `/readyz`); `CacheUnavailable` when it does not."""
    backend = _backend()
    if isinstance(backend, LocMemCache):
        return
    if outage.is_down:
        raise CacheUnavailable
    await aget_many(["readyz:ping"])
