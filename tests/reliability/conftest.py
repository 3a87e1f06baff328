"""Fixtures of the reliability and security suite (issue 6).

The live gateway (uvicorn in a thread) and the `openai` SDK clients come from
tests/live_gateway.py and the fake upstream from tests/fake_upstream/, so this
folder drives the same real stack; only what the suite adds is defined below.
"""

from __future__ import annotations

from typing import Any

import pytest

from providers.models import Provider
from tests import factories
from tests.chat.conftest import echo_model  # noqa: F401  (a fixture, used by name)

#: Keys planted in providers: no response, page, log record, export or error may show them.
OPENAI_SECRET = "sk-proj-PLANTED-openai-7f3a9c21d4e5b6a8"
ANTHROPIC_SECRET = "sk-ant-PLANTED-anthropic-2b9e4d7c1a0f3e6d"
SECRETS = (OPENAI_SECRET, ANTHROPIC_SECRET)


@pytest.fixture(autouse=True)
def _rows_written(_request_log_written: None) -> None:
    """Request-log rows written and helper connections closed before each test's flush."""


def leaked(text: str | bytes, *extra: str) -> list[str]:
    """The planted secrets (and any `extra` strings, e.g. ciphertext) found in `text`."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return [s for s in (*SECRETS, *extra) if s and s in text]


def ciphertexts() -> list[str]:
    """Every stored key's ciphertext as the column holds it."""
    return [str(value) for value in Provider.objects.exclude(api_key="").values_list("api_key", flat=True)]


@pytest.fixture
def planted(db: None, fake_upstream: Any) -> dict[str, Any]:
    """An OpenAI and an Anthropic provider with planted keys, served by the fake upstream.

    Both retry twice (the SDK's `max_retries`) with a 5 s deadline; tests change that per case.
    """
    openai_provider = factories.make_provider(
        name="Planted OpenAI",
        slug="planted-openai",
        kind="openai",
        base_url=f"{fake_upstream.url}/v1",
        api_key=OPENAI_SECRET,
        max_retries=2,
        timeout_seconds=5,
    )
    anthropic_provider = factories.make_provider(
        name="Planted Anthropic",
        slug="planted-anthropic",
        kind="anthropic",
        base_url=fake_upstream.url,
        api_key=ANTHROPIC_SECRET,
        max_retries=2,
        timeout_seconds=5,
    )
    return {
        "openai": factories.make_model(openai_provider, model_id="gpt-4o-mini", capabilities={"streaming": True}),
        "anthropic": factories.make_model(
            anthropic_provider, model_id="claude-sonnet-4-6", max_output_tokens=64000, capabilities={"streaming": True}
        ),
    }
