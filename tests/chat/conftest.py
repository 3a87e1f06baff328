"""Fixtures of the gateway tests.

The live gateway (`gateway`, uvicorn in a thread) and the `openai` SDK clients come
from tests/live_gateway.py; here: every chat test waits for its request-log rows, and
providers and models point at the session's fake upstream (`fake_upstream`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests import factories


@pytest.fixture(autouse=True)
def _chat_rows_written(_request_log_written: None) -> None:
    """Every chat test: rows written and helper connections closed before the flush (tests/live_gateway.py)."""


@pytest.fixture
def echo_model(db: None):
    """The offline demo's model: `echo/echo`, priced so cost can be checked."""
    provider = factories.make_provider(name="Echo", slug="echo", kind="echo", api_key="")
    return factories.make_model(
        provider,
        model_id="echo",
        name="Echo",
        input_price_per_mtok=Decimal("1.50"),
        output_price_per_mtok=Decimal("6"),
    )


@pytest.fixture
def openai_model(db: None, fake_upstream: Any):
    """`fake-openai/gpt-4o-mini` served by the fake upstream through the OpenAI adapter."""
    provider = factories.make_provider(
        name="Fake OpenAI",
        slug="fake-openai",
        kind="openai",
        base_url=f"{fake_upstream.url}/v1",
        api_key="sk-fake-openai-0001",
        max_retries=0,
        timeout_seconds=5,
    )
    return factories.make_model(
        provider,
        model_id="gpt-4o-mini",
        alias="mini",
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
        capabilities={"tools": True, "streaming": True},
    )


@pytest.fixture
def anthropic_model(db: None, fake_upstream: Any):
    """`fake-anthropic/claude-sonnet-4-6` (budget thinking) served by the fake upstream."""
    provider = factories.make_provider(
        name="Fake Anthropic",
        slug="fake-anthropic",
        kind="anthropic",
        base_url=fake_upstream.url,
        api_key="sk-ant-fake-0001",
        max_retries=0,
        timeout_seconds=5,
    )
    return factories.make_model(
        provider,
        model_id="claude-sonnet-4-6",
        max_output_tokens=64000,
        input_price_per_mtok=Decimal("3"),
        output_price_per_mtok=Decimal("15"),
        capabilities={"tools": True, "streaming": True, "thinking": "budget"},
    )
