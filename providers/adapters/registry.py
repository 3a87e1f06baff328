"""Adapters by provider kind, and the per-provider adapter cache.

`@register("kind")` on an adapter class adds a kind. `get_adapter(provider)`
returns the adapter for a provider configuration, reusing one instance (and so
one SDK client and connection pool) per provider until its settings change.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable

from providers.adapters.base import ProviderAdapter
from providers.snapshot import ProviderInfo

_ADAPTERS: dict[str, type[ProviderAdapter]] = {}
_INSTANCES: dict[int, tuple[tuple, ProviderAdapter]] = {}
_CLOSING: set[asyncio.Task] = set()

#: Modules that register the built-in kinds (imported on first use).
BUILTIN_MODULES = (
    "providers.adapters.openai_sdk",
    "providers.adapters.anthropic_sdk",
    "providers.adapters.echo",
)


def register(kind: str) -> Callable[[type[ProviderAdapter]], type[ProviderAdapter]]:
    def decorator(cls: type[ProviderAdapter]) -> type[ProviderAdapter]:
        _ADAPTERS[kind] = cls
        return cls

    return decorator


def _load_builtins() -> None:
    # Not "if not _ADAPTERS": importing one adapter module directly must not hide the others.
    if not all(module in sys.modules for module in BUILTIN_MODULES):
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


def adapter_class(kind: str) -> type[ProviderAdapter]:
    _load_builtins()
    try:
        return _ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"No adapter is registered for provider kind {kind!r}.") from None


def get_adapter(provider: ProviderInfo) -> ProviderAdapter:
    """The cached adapter for this provider, rebuilt when its configuration changed."""
    cached = _INSTANCES.get(provider.id)
    if cached is not None and cached[0] == provider.fingerprint:
        return cached[1]
    adapter = adapter_class(provider.kind)(provider)
    _INSTANCES[provider.id] = (provider.fingerprint, adapter)
    if cached is not None:
        _retire(cached[1])
    return adapter


def _retire(adapter: ProviderAdapter) -> None:
    """Close a replaced adapter's connection pool (on the running loop, the one its pool belongs to)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop runs: its pools belong to loops that are gone and are dropped with it
    task = loop.create_task(adapter.aclose())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)


def registered_kinds() -> list[str]:
    _load_builtins()
    return sorted(_ADAPTERS)
