"""Helpers of the adapter tests: provider configurations, requests, running coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from providers import crypto
from providers.adapters.base import ChatRequest, StreamEvent
from providers.snapshot import ProviderInfo

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


def provider_info(
    *,
    kind: str,
    base_url: str,
    key: str | None = OPENAI_KEY,
    slug: str | None = None,
    timeout: float = 1.5,
    max_retries: int = 2,
    token: str | None = None,
    **fields: Any,
) -> ProviderInfo:
    """A provider configuration as the snapshot gives it (`api_key_token` is ciphertext)."""
    slug = slug or kind.replace("_", "-")
    data: dict[str, Any] = {
        "id": abs(hash((kind, base_url, slug))) % 100_000,
        "name": slug.title(),
        "slug": slug,
        "kind": kind,
        "base_url": base_url,
        "organization": "",
        "api_version": "",
        "image_url": "",
        "is_enabled": True,
        "timeout_seconds": timeout,
        "max_retries": max_retries,
        "extra_headers": {},
        "api_key_token": token if token is not None else crypto.encrypt(key or ""),
        "env_key_name": slug.upper().replace("-", "_") + "_API_KEY",
        "key_source": "stored" if (token or key) else "none",
        "inactive_reason": None,
        "updated_at": "2026-01-01T00:00:00+00:00",
    }
    data.update(fields)
    return ProviderInfo(**data)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


def ask(model: str, text: str = "hello", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[{"role": "user", "content": text}], **fields)


def undecryptable_token() -> str:
    """Ciphertext made with a key that is not in FIELD_ENCRYPTION_KEYS."""
    from cryptography.fernet import Fernet

    return crypto.TOKEN_PREFIX + Fernet(Fernet.generate_key()).encrypt(b"sk-lost-key-123456").decode()
