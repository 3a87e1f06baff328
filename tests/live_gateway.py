"""The live gateway every end-to-end test drives: our ASGI app under uvicorn, and the `openai` SDK as its client.

Why these exist:
- `gateway`: the SSE stream, client disconnects and the middleware-free fast path
  (chat/asgi.py) only exist under a real ASGI server (pytest-django's `live_server`
  is WSGI), so `configsite.asgi.application` runs under uvicorn in a thread on
  127.0.0.1, once per session, shared by the chat, reliability and browser tests.
  Tests that use it are `django_db(transaction=True)`: what a test writes is
  committed, so the server thread sees it (tests/settings.py puts SQLite's test
  database in a file). Server threads close their connections after each request
  (CONN_MAX_AGE=0) and helper threads' connections are closed after each test, so
  PostgreSQL can drop the test database.
- `openai_client` / `async_openai_client`: the official SDK pointed at the gateway,
  with `max_retries=0` so a 5xx we answer is seen as is, not retried.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
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


@pytest.fixture
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
