"""Fixtures of the gateway tests: our /v1 API served by uvicorn, and the official `openai` SDK as its client.

Why these exist:
- `gateway`: the SSE stream, client disconnects and the middleware-free fast path
  (chat/asgi.py) only exist under a real ASGI server, so `configsite.asgi.application`
  runs under uvicorn in a thread on 127.0.0.1, once per session. Tests that use it
  are `django_db(transaction=True)`: what a test writes is committed, so the server
  thread sees it (SQLite's in-memory test database is shared-cache within the process).
  Server threads close their connections after each request (CONN_MAX_AGE=0) and
  helper threads' connections are closed after each test, so PostgreSQL can drop
  the test database.
- `openai_client` / `async_openai_client`: the official SDK pointed at the gateway,
  with `max_retries=0` so a 5xx we answer is seen as is, not retried.
- Providers and models pointing at the session's fake upstream (`fake_upstream`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
import uvicorn
from asgiref.sync import SyncToAsync
from django.db import connections

from chat import request_log
from tests import factories


class GatewayServer:
    """`configsite.asgi.application` under uvicorn in a daemon thread on a free port."""

    def __init__(self) -> None:
        from configsite.asgi import application

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            application, http="h11", ws="none", lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


@pytest.fixture(scope="session")
def gateway(django_db_setup: None, django_db_blocker: Any) -> Iterator[GatewayServer]:
    """The project under uvicorn for the whole session (see the module docstring)."""
    for alias in connections:
        connections[alias].settings_dict["CONN_MAX_AGE"] = 0
    server = GatewayServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _request_log_written() -> Iterator[None]:
    """Every row a test caused is written before the test's database is flushed, and no
    helper thread keeps a connection open (PostgreSQL cannot drop a database in use):
    the request-log writer, and asgiref's thread for `sync_to_async` outside a request."""
    yield
    request_log.close_connections()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture
def chat_key(db: None) -> str:
    """A raw API key with the `chat` scope."""
    _, raw = factories.make_api_key(scopes=("chat",))
    return raw


@pytest.fixture
def openai_client(gateway: GatewayServer, chat_key: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=chat_key, max_retries=0, timeout=20)
    yield client
    client.close()


@pytest.fixture
def async_openai_client(gateway: GatewayServer, chat_key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=chat_key, max_retries=0, timeout=20)


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
