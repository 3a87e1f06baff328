"""configsite/redis_pool.py: every cache object of a process shares one Redis pool per URL."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from django.conf import settings
from django.core.cache import caches

from configsite.redis_pool import SharedConnectionPool
from configsite.settings import _cache_config


def test_redis_cache_urls_use_the_shared_pool_class():
    config = _cache_config("redis://127.0.0.1:6379/3")
    assert config["OPTIONS"]["pool_class"] == "configsite.redis_pool.SharedConnectionPool"
    assert "OPTIONS" not in _cache_config("locmem://")


def test_from_url_memoizes_per_url_and_options():
    first = SharedConnectionPool.from_url("redis://127.0.0.1:6379/14", socket_timeout=1)
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/14", socket_timeout=1) is first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/15", socket_timeout=1) is not first
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/14", socket_timeout=2) is not first


@pytest.fixture
def redis_cache():
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs CACHE_URL=redis://…")


def _pool_used_here(key: str) -> object:
    cache = caches["default"]
    cache.set(key, "x", 30)  # a real round trip through the pool
    assert cache.get(key) == "x"
    return cache, cache._cache.get_client(write=True).connection_pool


def test_requests_in_different_asyncio_tasks_share_one_pool(redis_cache):
    async def request(n: int) -> tuple[object, object]:
        return _pool_used_here(f"redis-pool-test-task-{n}")

    async def main() -> list[tuple[object, object]]:
        # A fresh context per task, as a server's request tasks have (this test's own context
        # already holds a cache object, which copied contexts would inherit).
        tasks = [asyncio.create_task(request(n), context=contextvars.Context()) for n in range(3)]
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    cache_objects = {id(cache) for cache, _ in results}
    pools = {id(pool) for _, pool in results}
    # Django's `caches` is context-local: each task (request) gets its own cache object...
    assert len(cache_objects) == 3
    # ...but they all talk through the same pool (one connection, not one per request).
    assert len(pools) == 1


def test_threads_share_one_pool(redis_cache):
    results: list[tuple[object, object]] = []

    def worker(n: int) -> None:
        results.append(_pool_used_here(f"redis-pool-test-thread-{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(cache) for cache, _ in results}) == 3
    assert len({id(pool) for _, pool in results}) == 1
    assert isinstance(results[0][1], SharedConnectionPool)
