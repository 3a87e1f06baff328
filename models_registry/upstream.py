"""Calling an upstream from synchronous code (commands, admin actions, API views).

Discovery and connection tests build their own short-lived adapter instead of
reusing the cached one from `registry.get_adapter()`: they run the adapter in an
event loop of their own (`asyncio.run`), and an SDK client's connection pool
belongs to the loop it was first used in, so sharing the gateway's instance
across loops would break one or the other. The adapter is closed when done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from providers.adapters import clients
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import ProviderError
from providers.adapters.registry import adapter_class
from providers.models import Provider
from providers.snapshot import ProviderInfo, get_snapshot

T = TypeVar("T")


def provider_info(provider: Provider | ProviderInfo | int) -> ProviderInfo:
    """The snapshot's view of a provider (inactive ones included)."""
    if isinstance(provider, ProviderInfo):
        return provider
    pk = provider if isinstance(provider, int) else provider.pk
    try:
        return get_snapshot().providers[pk]
    except KeyError:
        raise LookupError(f"No provider with id {pk}.") from None


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from synchronous code, even when a loop runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def with_adapter(info: ProviderInfo, call: Callable[[ProviderAdapter], Awaitable[T]]) -> T:
    """`call(adapter)` on a fresh adapter for this provider, closed afterwards (see the module docstring)."""

    async def main() -> T:
        adapter = adapter_class(info.kind)(info)
        try:
            return await call(adapter)
        finally:
            await adapter.aclose()

    return run_sync(main())


def scrub(message: str, info: ProviderInfo) -> str:
    """An upstream's error text with the provider's key blanked out, should an upstream echo it."""
    try:
        key = clients.api_key(info)
    except ProviderError:
        return message
    if key and len(key) >= 4 and key in message:
        message = message.replace(key, "***")
    return message


def error_text(exc: BaseException, info: ProviderInfo) -> str:
    """A one-line description of an upstream failure, without secrets."""
    if isinstance(exc, ProviderError):
        text = exc.message
        if exc.upstream_status:
            text = f"{text} (HTTP {exc.upstream_status})"
    else:
        text = f"{exc.__class__.__name__}: {exc}"
    return scrub(" ".join(text.split()), info)
