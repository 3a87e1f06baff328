"""One Redis connection pool per process and server, whatever the number of `RedisCache` objects.

Django's `caches` is a context-local handler: under ASGI every request runs in its own
asyncio task (its own context), so each request builds a new `RedisCache`, whose client
asks its `pool_class.from_url()` for a new pool — a new TCP connection and handshake per
request. Set as `CACHES[...]["OPTIONS"]["pool_class"]`, this class hands every cache
object the same pool for the same URL and options.

redis-py pools are thread-safe, and they reset themselves when they notice a new process
id (`ConnectionPool._checkpid`), so a pool created before a fork is not shared with the child.
"""

from __future__ import annotations

import threading
from typing import Any

from redis import ConnectionPool

_pools: dict[tuple[str, str], SharedConnectionPool] = {}
_lock = threading.Lock()


class SharedConnectionPool(ConnectionPool):
    """`ConnectionPool` whose `from_url` returns the process's pool for that URL and options."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SharedConnectionPool:
        # repr() because options may hold unhashable values; equal options give equal keys.
        key = (url, repr(sorted(kwargs.items())))
        pool = _pools.get(key)
        if pool is None:
            with _lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = super().from_url(url, **kwargs)
        return pool
