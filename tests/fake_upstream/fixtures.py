"""Pytest fixtures that start the fake upstream server (see server.py for its API).

`fake_upstream` is the one to use: the session's server, reset before each test
(scripted behaviours, recorded requests, model lists, required key). The server
itself starts once per session because starting uvicorn costs ~50 ms.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_upstream.server import FakeUpstream, FakeUpstreamServer


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstreamServer]:
    """One fake upstream on 127.0.0.1 for the whole session."""
    server = FakeUpstreamServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstreamServer) -> Iterator[FakeUpstream]:
    """The fake upstream with a clean state: default answers, default model lists, nothing recorded."""
    fake = fake_upstream_server.fake
    fake.reset()
    yield fake
    fake.reset()
