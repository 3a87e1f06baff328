"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from providers import snapshot

pytest_plugins = ["tests.fake_upstream.fixtures", "tests.live_gateway"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache and no process-local snapshot (tests share one process)."""
    cache.clear()
    snapshot.store.forget()
    yield
    cache.clear()
    snapshot.store.forget()
