"""chat/asgi.py: under uvicorn the chat endpoint skips the middleware stack; everything else keeps it."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx2
import pytest
from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created

from chat import request_log

pytestmark = pytest.mark.django_db(transaction=True)

HI = [{"role": "user", "content": "hi"}]


def test_chat_endpoint_skips_the_middleware_stack(gateway, chat_key, echo_model):
    auth = {"Authorization": f"Bearer {chat_key}"}
    chat = httpx2.post(f"{gateway.url}/v1/chat/completions", json={"model": "echo/echo", "messages": HI}, headers=auth)
    models = httpx2.get(f"{gateway.url}/v1/models", headers=auth)
    assert chat.status_code == 200
    # XFrameOptionsMiddleware marks every response that went through the stack.
    assert "x-frame-options" not in chat.headers
    assert chat.headers["x-content-type-options"] == "nosniff"
    assert models.headers["x-frame-options"] == "DENY"


def test_stream_headers_allow_no_buffering(gateway, chat_key, echo_model):
    with httpx2.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo/echo", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}", "Accept-Encoding": "gzip"},
    ) as response:
        body = response.read()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers and "content-length" not in response.headers
    assert body.endswith(b"data: [DONE]\n\n")


def test_fast_path_still_checks_allowed_hosts(gateway, chat_key, echo_model, settings):
    settings.ALLOWED_HOSTS = ["gateway.example"]
    response = httpx2.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo/echo", "messages": HI},
        headers={"Authorization": f"Bearer {chat_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_host"


def test_the_view_also_works_through_the_full_stack(client, chat_key, echo_model):
    """WSGI and the test client run every middleware; the answer is the same."""
    response = client.post(
        "/v1/chat/completions",
        {"model": "echo/echo", "messages": HI},
        content_type="application/json",
        headers={"Authorization": f"Bearer {chat_key}"},
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hi"


def test_a_warm_request_makes_no_query(openai_client, openai_model, fake_upstream):
    """Key, model and settings come from the cache and the adapter is reused: no database on the path.

    Server threads close their connection at the end of each request (CONN_MAX_AGE=0 here), so a
    query while serving would open one; only the request-log writer, off the path, may.
    """
    from chat.models import RequestLog

    openai_client.chat.completions.create(model="fake-openai/mini", messages=HI)  # warms every cache
    request_log.flush()
    logged = RequestLog.objects.count()
    opened: list[str] = []

    def record(sender, connection, **kwargs):
        opened.append(threading.current_thread().name)

    connection_created.connect(record)
    try:
        answer = openai_client.chat.completions.create(model="fake-openai/mini", messages=HI)
        streamed = list(openai_client.chat.completions.create(model="fake-openai/mini", messages=HI, stream=True))
        request_log.flush()
    finally:
        connection_created.disconnect(record)
    assert answer.choices[0].message.content
    assert streamed[-1].choices[0].finish_reason == "stop"
    assert [name for name in opened if not name.startswith("chat-request-log")] == []
    assert RequestLog.objects.count() == logged + 2, "the log rows were written (on their own thread)"


def _redis_commands(client) -> dict[str, int]:
    return {name: stats["calls"] for name, stats in client.info("commandstats").items() if name != "cmdstat_info"}


def test_a_warm_request_reads_the_cache_once(openai_client, openai_model, fake_upstream, settings):
    """Key lookup and configuration version in one round trip: with Redis, one MGET and nothing else."""
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("needs CACHE_URL=redis://… (counts the commands Redis served)")
    import redis

    observer = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    openai_client.chat.completions.create(model="fake-openai/mini", messages=HI)  # warms every cache
    request_log.flush()
    before = _redis_commands(observer)
    openai_client.chat.completions.create(model="fake-openai/mini", messages=HI)
    request_log.flush()
    after = _redis_commands(observer)
    served = {name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)}
    assert served == {"cmdstat_mget": 1}


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _until_finished(events: list[tuple[str, bool, str]]) -> list[tuple[str, bool, str]]:
    deadline = time.monotonic() + 5
    while not any(name == "finished" for name, _, _ in events) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [event for event in events if not event[2].startswith("chat-request-log")]


def test_request_signals_run_on_the_event_loop_when_warm_and_on_the_cold_requests_thread(openai_client, echo_model):
    """No thread hop for `request_started`/`request_finished` on a warm request; a cold one ends on its own thread.

    The cold request (empty cache: the key is looked up in a thread) must end where its database
    connection was opened, so that `close_old_connections` sees that connection, as in Django.
    """
    events: list[tuple[str, bool, str]] = []

    def started(sender, **kwargs):
        events.append(("started", _on_event_loop(), threading.current_thread().name))

    def finished(sender, **kwargs):
        events.append(("finished", _on_event_loop(), threading.current_thread().name))

    def opened(sender, connection, **kwargs):
        events.append(("connected", _on_event_loop(), threading.current_thread().name))

    request_started.connect(started)
    request_finished.connect(finished)
    connection_created.connect(opened)
    try:
        # The response is sent before the request ends (`request_finished`): wait for the end.
        openai_client.chat.completions.create(model="echo/echo", messages=HI)  # cold: key and config from the DB
        cold = _until_finished(events)
        events.clear()
        openai_client.chat.completions.create(model="echo/echo", messages=HI)  # warm
        warm = _until_finished(events)
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
        connection_created.disconnect(opened)
    assert [(name, on_loop) for name, on_loop, _ in warm] == [("started", True), ("finished", True)]
    assert cold[0][:2] == ("started", True)
    assert cold[-1][:2] == ("finished", False)
    connected_threads = {thread for name, _, thread in cold if name == "connected"}
    # The snapshot is built on a thread of its own, which closes its connection itself (ADR 0008);
    # the request's own connection (the key's lookup) was opened on the thread the request ended on.
    builder = {thread for thread in connected_threads if thread.startswith("snapshot-build")}
    assert connected_threads - builder == {cold[-1][2]}, cold


def test_a_stream_starts_when_the_upstream_answers_not_at_its_first_token(
    gateway, chat_key, openai_model, fake_upstream
):
    """Headers and the role chunk go out with the upstream's 200; tokens follow as they come."""
    from tests.fake_upstream import behaviour as fb

    fake_upstream.enqueue(fb.answer("Thought about it.", first_token_delay=0.6))
    arrivals: list[tuple[float, bytes]] = []
    started = time.perf_counter()
    with httpx2.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "fake-openai/mini", "messages": HI, "stream": True},
        headers={"Authorization": f"Bearer {chat_key}"},
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append((time.perf_counter() - started, line.encode()))
    assert response.status_code == 200
    first_at, first = arrivals[0]
    assert b'"role":"assistant"' in first and b'"content":""' in first
    assert first_at < 0.45, f"the role chunk waited {first_at:.2f} s for the first token"
    token_at = next(at for at, line in arrivals if b"Thought" in line)
    assert token_at >= 0.55
    assert arrivals[-1][1] == b"data: [DONE]"
