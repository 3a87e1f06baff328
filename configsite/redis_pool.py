"""The Redis cache backend: one client and one connection pool per process and server.

Django's `caches` is a context-local handler: under ASGI every request runs in its own
asyncio task (its own context), so each request builds a new `RedisCache`, whose client
builds a new connection pool (a new TCP connection and handshake per request), and every
cache call builds a new `redis.Redis` (~0.1 ms each: its table of response callbacks;
py-spy, bench/README.md). This backend keeps Django's `RedisCache` and shares, per process,
the `RedisCacheClient` (hence its pools) for the same servers and options, and one
`redis.Redis` per pool.

redis-py clients and pools are thread-safe (a connection is taken from the pool for one
command and given back), and a pool resets itself when it notices a new process id
(`ConnectionPool._checkpid`), so nothing made before a fork is shared with the child.
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple[tuple[str, ...], str], RedisCacheClient] = {}
_lock = threading.Lock()


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's client with one `redis.Redis` per connection pool, built once."""

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._redis_clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._redis_clients.get(index)
        if client is None:
            with _lock:
                client = self._redis_clients.get(index)
                if client is None:
                    pool = self._pools.get(index)
                    if pool is None:
                        pool = self._pools[index] = self._pool_class.from_url(
                            self._servers[index], **self._pool_options
                        )
                    client = self._redis_clients[index] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """`RedisCache` whose client (and so pools and redis clients) is the process's for these servers."""

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = RedisCacheClient(self._servers, **self._options)
        return client
