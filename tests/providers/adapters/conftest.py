"""Fixtures of the adapter tests: provider configurations pointing at the fake upstream.

Adapters are tested over HTTP against `fake_upstream` (tests/fake_upstream/), with
the real SDKs: nothing is mocked. Each test's coroutine runs in its own event
loop (`run`), as a management command would; the adapters keep one SDK client
per loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from providers.snapshot import ProviderInfo
from tests.providers.adapters.support import ANTHROPIC_KEY, provider_info


@pytest.fixture
def openai_provider(fake_upstream) -> Callable[..., ProviderInfo]:
    """Build an `openai` provider aimed at the fake upstream's /v1."""

    def build(**fields: Any) -> ProviderInfo:
        fields.setdefault("kind", "openai")
        fields.setdefault("base_url", fake_upstream.url + "/v1")
        return provider_info(**fields)

    return build


@pytest.fixture
def anthropic_provider(fake_upstream) -> Callable[..., ProviderInfo]:
    """Build an `anthropic` provider aimed at the fake upstream."""

    def build(**fields: Any) -> ProviderInfo:
        fields.setdefault("kind", "anthropic")
        fields.setdefault("base_url", fake_upstream.url)
        fields.setdefault("key", ANTHROPIC_KEY)
        return provider_info(**fields)

    return build
