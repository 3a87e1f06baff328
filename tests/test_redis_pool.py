"""configsite/redis_pool.py: every cache object of a process shares one Redis client and pool per server."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from django.conf import settings
from django.core.cache import caches

from configsite.redis_pool import RedisCache
from configsite.settings import _cache_config


def test_redis_cache_urls_use_the_shared_backend():
    assert _cache_config("redis://127.0.0.1:6379/3")["BACKEND"] == "configsite.redis_pool.RedisCache"
    assert _cache_config("locmem://")["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_cache_objects_with_the_same_servers_and_options_share_one_client():
    first = RedisCache("redis://127.0.0.1:6379/14", {"OPTIONS": {"socket_timeout": 1}})
    same = RedisCache("redis://127.0.0.1:6379/14", {"OPTIONS": {"socket_timeout": 1}})
    other_db = RedisCache("redis://127.0.0.1:6379/15", {"OPTIONS": {"socket_timeout": 1}})
    other_options = RedisCache("redis://127.0.0.1:6379/14", {"OPTIONS": {"socket_timeout": 2}})
    assert first is not same and first._cache is same._cache
    assert first._cache.get_client() is same._cache.get_client(write=True)  # one server: one redis client
    assert other_db._cache is not first._cache
    assert other_options._cache is not first._cache


@pytest.fixture
def redis_cache():
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs CACHE_URL=redis://…")


def _used_here(key: str) -> tuple[object, object, object]:
    cache = caches["default"]
    cache.set(key, "x", 30)  # a real round trip
    assert cache.get(key) == "x"
    client = cache._cache.get_client(write=True)
    return cache, client, client.connection_pool


def test_requests_in_different_asyncio_tasks_share_one_client_and_pool(redis_cache):
    async def request(n: int) -> tuple[object, object, object]:
        return _used_here(f"redis-pool-test-task-{n}")

    async def main() -> list[tuple[object, object, object]]:
        # A fresh context per task, as a server's request tasks have (this test's own context
        # already holds a cache object, which copied contexts would inherit).
        tasks = [asyncio.create_task(request(n), context=contextvars.Context()) for n in range(3)]
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    # Django's `caches` is context-local: each task (request) gets its own cache object...
    assert len({id(cache) for cache, _, _ in results}) == 3
    # ...but they all talk through one redis client and one pool (one connection, not one per request).
    assert len({id(client) for _, client, _ in results}) == 1
    assert len({id(pool) for _, _, pool in results}) == 1


def test_threads_share_one_client_and_pool(redis_cache):
    results: list[tuple[object, object, object]] = []

    def worker(n: int) -> None:
        results.append(_used_here(f"redis-pool-test-thread-{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(cache) for cache, _, _ in results}) == 3
    assert len({id(client) for _, client, _ in results}) == 1
    assert len({id(pool) for _, _, pool in results}) == 1
