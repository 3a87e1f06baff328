"""Builders shared by the discovery, command and action tests: providers pointed at the fake upstream."""

from __future__ import annotations

import socket
from typing import Any

from providers.models import Provider, ProviderModel
from tests.factories import make_provider

OPENAI_KEY = "sk-fake-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-fake-0123456789"


def openai_provider(fake: Any, **fields: Any) -> Provider:
    """An OpenAI provider whose base URL is the fake upstream (the real `openai` SDK talks to it)."""
    data = {"name": "OpenAI", "slug": "openai", "kind": "openai", "base_url": fake.url + "/v1", "api_key": OPENAI_KEY}
    data.update(fields)
    return make_provider(**data)


def anthropic_provider(fake: Any, **fields: Any) -> Provider:
    data = {"name": "Anthropic", "slug": "anthropic", "kind": "anthropic", "base_url": fake.url}
    data["api_key"] = ANTHROPIC_KEY
    data.update(fields)
    return make_provider(**data)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def models_state(provider: Provider | None = None) -> list[dict[str, Any]]:
    rows = ProviderModel.objects.order_by("pk")
    if provider is not None:
        rows = rows.filter(provider=provider)
    return list(rows.values())
